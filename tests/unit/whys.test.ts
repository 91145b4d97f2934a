/**
 * Every why stands on its own: a setting's why and a template's comments
 * name public sources or files of this repository, never a note outside it
 * (a lab recipe, "field notes", an issue number); and every repository file
 * they name exists.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { TEMPLATES_DIR } from "../../lib/template.js";
import { allSettings } from "../../roles/registry.js";

const ROOT = resolve(import.meta.dirname, "../..");
const OUTSIDE = /\.\.\/shared|lab-recipe|field[- ]notes|design-notes|\bissue #?\d+|\[issue/i;
const REPO_PATH = /\b((?:docs|tests|scripts|roles|lib|templates|dns|playbooks)\/[A-Za-z0-9_./-]+\.(?:md|ts|hbs|json|sh|yml))\b/g;

const templateFiles = readdirSync(TEMPLATES_DIR).flatMap((r) => readdirSync(join(TEMPLATES_DIR, r)).map((f) => join(TEMPLATES_DIR, r, f)));
const roleSources = readdirSync(join(ROOT, "roles"), { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => readdirSync(join(ROOT, "roles", d.name)).map((f) => join(ROOT, "roles", d.name, f)));

describe("whys", () => {
  it("no setting's why points outside the repository, and the files they name exist", () => {
    const bad: string[] = [];
    for (const [name, s] of Object.entries(allSettings())) {
      if (OUTSIDE.test(s.why)) bad.push(`${name}: ${s.why}`);
      for (const m of s.why.matchAll(REPO_PATH)) if (!existsSync(join(ROOT, m[1]!))) bad.push(`${name}: names ${m[1]}, which does not exist`);
    }
    expect(bad).toEqual([]);
  });

  it("no template, role or engine comment points outside the repository", () => {
    const bad: string[] = [];
    const lib = readdirSync(join(ROOT, "lib"), { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && d.name.endsWith(".ts")).map((d) => join(d.parentPath, d.name));
    for (const f of [...templateFiles, ...roleSources, ...lib]) {
      readFileSync(f, "utf8").split("\n").forEach((line, i) => {
        if (OUTSIDE.test(line)) bad.push(`${f.slice(ROOT.length + 1)}:${i + 1}: ${line.trim()}`);
        for (const m of line.matchAll(REPO_PATH)) if (!existsSync(join(ROOT, m[1]!)) && !m[1]!.includes("<")) bad.push(`${f.slice(ROOT.length + 1)}:${i + 1}: names ${m[1]}, which does not exist`);
      });
    }
    expect(bad).toEqual([]);
  });
});
