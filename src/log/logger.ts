/**
 * Structured JSON logs, one object per line on stderr: `{"ts","level","msg",...fields}`.
 * Nothing on a hot path logs per item; per-request problems are counted in metrics and logged
 * at most once per `throttleMs` per key.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Logs at most once per `throttleMs` for `key`, with a count of what was suppressed. */
  throttled(level: LogLevel, key: string, msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l), throttleMs = 10_000): Logger {
  const min = RANK[level];
  const last = new Map<string, { at: number; suppressed: number }>();
  const log = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level: lvl, msg, ...fields }, errorReplacer) + '\n');
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    throttled(lvl, key, msg, fields) {
      const now = Date.now();
      const seen = last.get(key);
      if (seen && now - seen.at < throttleMs) {
        seen.suppressed++;
        return;
      }
      last.set(key, { at: now, suppressed: 0 });
      log(lvl, msg, seen?.suppressed ? { ...fields, suppressed: seen.suppressed } : fields);
    },
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  return value;
}
