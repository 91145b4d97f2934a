export * from "./types.js";
export * from "./os.js";
export * from "./files.js";
export * from "./packages.js";
export * from "./system.js";
export * from "./http.js";
