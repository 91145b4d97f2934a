/**
 * What `npm run bench` reads inside a lab VM (one python3 script, both cgroup layouts):
 * PSS per systemd unit with the slice it runs in (/proc/<pid>/smaps_rollup, summed per unit, as
 * `npm run lab -- mem` does), and the mail slice's own memory: usage (page cache included), its
 * anonymous part and its page cache apart, swap, OOM kills. cgroup v2 (Oracle's images):
 * memory.current, memory.stat anon/file, memory.swap.current, memory.events oom_kill. cgroup v1
 * (the lab's hybrid host): memory.usage_in_bytes, memory.stat total_rss/total_cache/total_swap,
 * memory.oom_control oom_kill summed over the slice's tree, memory.failcnt (limit hits).
 *
 * Modes: `once` prints one sample; `watch SECONDS STOPFILE` samples the slice every 0.25 s and PSS
 * every 2 s until STOPFILE exists or SECONDS pass (bounded), then prints the peaks.
 */
import type { LabHost } from "../../tests/lab/index.js";
import { sshRun } from "../../tests/lab/index.js";
import { PSS_BY_UNIT_PY } from "../../tests/lab/mem.js";

export interface UnitPss {
  unit: string;
  slice: string;
  pssKiB: number;
  processes: number;
}
export interface SliceMem {
  cgroup: "v1" | "v2" | "none";
  usageBytes: number;
  anonBytes: number;
  cacheBytes: number;
  swapBytes: number | null;
  oomKills: number;
  limitHits: number | null;
}
export interface Sample {
  units: UnitPss[];
  slice: SliceMem;
}
export interface Watch {
  seconds: number;
  samples: number;
  peakAnonBytes: number;
  peakCacheBytes: number;
  peakUsageBytes: number;
  /** the kernel's own peak (v1 max_usage_in_bytes after a reset; v2 memory.peak): page cache included */
  kernelPeakBytes: number | null;
  peakSwapBytes: number | null;
  /** the highest PSS each unit reached in any 2-s sample */
  peakPss: Record<string, number>;
  end: SliceMem;
}

const SCRIPT = String.raw`
import json, os, re, sys, time
${PSS_BY_UNIT_PY}
SLICE = sys.argv[2]
def read(p):
    try:
        with open(p) as f: return f.read()
    except OSError: return None
def stat(p):
    out = {}
    for line in (read(p) or '').splitlines():
        k, _, v = line.partition(' ')
        try: out[k] = int(v)
        except ValueError: pass
    return out
V2 = '/sys/fs/cgroup/' + SLICE
V1 = '/sys/fs/cgroup/memory/' + SLICE
def slice_mem():
    if os.path.isdir(V1) and os.path.exists(V1 + '/memory.usage_in_bytes'):
        s = stat(V1 + '/memory.stat')
        ooms = 0
        for d, _, _ in os.walk(V1):
            ooms += stat(d + '/memory.oom_control').get('oom_kill', 0)
        return {'cgroup': 'v1', 'usageBytes': int(read(V1 + '/memory.usage_in_bytes') or 0),
                'anonBytes': s.get('total_rss', 0), 'cacheBytes': s.get('total_cache', 0),
                'swapBytes': s.get('total_swap'), 'oomKills': ooms, 'limitHits': int(read(V1 + '/memory.failcnt') or 0)}
    if os.path.exists(V2 + '/memory.current'):
        s = stat(V2 + '/memory.stat')
        sw = read(V2 + '/memory.swap.current')
        return {'cgroup': 'v2', 'usageBytes': int(read(V2 + '/memory.current') or 0), 'anonBytes': s.get('anon', 0),
                'cacheBytes': s.get('file', 0), 'swapBytes': int(sw) if sw else None,
                'oomKills': stat(V2 + '/memory.events').get('oom_kill', 0), 'limitHits': stat(V2 + '/memory.events').get('max', 0)}
    return {'cgroup': 'none', 'usageBytes': 0, 'anonBytes': 0, 'cacheBytes': 0, 'swapBytes': None, 'oomKills': 0, 'limitHits': None}
pss = pss_by_unit
mode = sys.argv[1]
if mode == 'once':
    print(json.dumps({'units': pss(), 'slice': slice_mem()}))
    sys.exit(0)
seconds, stop = float(sys.argv[3]), sys.argv[4]
for f in (V1 + '/memory.max_usage_in_bytes',):
    try:
        with open(f, 'w') as w: w.write('0')
    except OSError: pass
t0 = time.time(); n = 0; last_pss = 0
peak = {'anon': 0, 'cache': 0, 'usage': 0, 'swap': None}
ppss = {}
while time.time() - t0 < seconds and not os.path.exists(stop):
    m = slice_mem(); n += 1
    peak['anon'] = max(peak['anon'], m['anonBytes']); peak['cache'] = max(peak['cache'], m['cacheBytes'])
    peak['usage'] = max(peak['usage'], m['usageBytes'])
    if m['swapBytes'] is not None: peak['swap'] = max(peak['swap'] or 0, m['swapBytes'])
    if time.time() - last_pss >= 2:
        last_pss = time.time()
        for u in pss():
            ppss[u['unit']] = max(ppss.get(u['unit'], 0), u['pssKiB'])
    time.sleep(0.25)
kp = read(V1 + '/memory.max_usage_in_bytes') or read(V2 + '/memory.peak')
print(json.dumps({'seconds': round(time.time() - t0, 1), 'samples': n, 'peakAnonBytes': peak['anon'], 'peakCacheBytes': peak['cache'],
                  'peakUsageBytes': peak['usage'], 'kernelPeakBytes': int(kp) if kp else None, 'peakSwapBytes': peak['swap'],
                  'peakPss': ppss, 'end': slice_mem()}))
`;

const py = (h: LabHost, args: string, timeoutMs: number) => sshRun(h, `sudo python3 - ${args}`, { input: SCRIPT, timeoutMs });

/** One sample: PSS per unit and the slice's memory. */
export async function sample(h: LabHost, slice = "mail.slice"): Promise<Sample> {
  return JSON.parse((await py(h, `once ${slice}`, 60_000)).stdout) as Sample;
}

/** Start watching (once the stop file is cleared); `stop()` ends it (bounded by maxSeconds anyway) and returns the peaks. */
export async function watch(h: LabHost, maxSeconds: number, slice = "mail.slice"): Promise<{ stop: () => Promise<Watch> }> {
  const stopFile = `/run/mailstead-bench-${process.pid}.stop`;
  await sshRun(h, `sudo rm -f ${stopFile}`);
  const running = py(h, `watch ${slice} ${maxSeconds} ${stopFile}`, (maxSeconds + 60) * 1000);
  running.catch(() => {}); // read by stop()
  return {
    stop: async () => {
      await sshRun(h, `sudo touch ${stopFile}`, { nothrow: true });
      const r = await running;
      await sshRun(h, `sudo rm -f ${stopFile}`, { nothrow: true });
      return JSON.parse(r.stdout) as Watch;
    },
  };
}
