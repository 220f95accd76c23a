/**
 * Parsing of human units in flags: sizes (`10GiB`, `100MB`, `512KiB`, `1024`) and durations
 * (`90s`, `5m`, `250ms`, `1h`). Both throw `ConfigError` with the flag name on bad input.
 */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const SIZE_UNITS = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
} as const;

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Bytes from `10GiB`, `100MB`, `64k` is not accepted (say `64KiB` or `64KB`). */
export function parseSize(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase() as keyof typeof SIZE_UNITS | undefined;
  if (!m || unit === undefined || !(unit in SIZE_UNITS)) {
    throw new ConfigError(`--${flag}: "${text}" is not a size (examples: 1024, 512KiB, 100MB, 10GiB)`);
  }
  return Math.round(Number(m[1]) * SIZE_UNITS[unit]);
}

/** Milliseconds from `90s`, `5m`, `250ms`, `1h`, or a combination like `1m30s`. */
export function parseDurationMs(flag: string, text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  const s = text.trim();
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * DURATION_UNITS_MS[m[2] as keyof typeof DURATION_UNITS_MS];
    pos = re.lastIndex;
  }
  if (s.length === 0 || pos !== s.length) {
    throw new ConfigError(`--${flag}: "${text}" is not a duration (examples: 250ms, 90s, 5m, 1h30m)`);
  }
  return Math.round(total);
}
