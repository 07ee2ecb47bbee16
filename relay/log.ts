/**
 * One JSON object per line. Callers pass only safe fields (method, path, status, request ID,
 * durations, error kinds); as a second line of defence every line is scrubbed of the configured
 * secrets and of anything that looks like an email address before it is written.
 */
export type LogSink = (line: string) => void;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
    log(level: LogLevel, msg: string, fields?: Record<string, string | number | boolean | null | undefined>): void;
}

const EMAIL_LIKE = /[^\s"'<>@]+@[^\s"'<>@]+\.[^\s"'<>@]+/g;

export function createLogger(sink: LogSink, secrets: string[] = []): Logger {
    const redact = secrets.filter((s) => s.length >= 4);
    return {
        log(level, msg, fields = {}) {
            const entry: Record<string, unknown> = { ts: new Date().toISOString(), level, msg };
            for (const [k, v] of Object.entries(fields)) {
                if (v !== undefined) {
                    entry[k] = v;
                }
            }
            let line = JSON.stringify(entry);
            for (const s of redact) {
                if (line.includes(s)) {
                    line = line.split(s).join('[redacted]');
                }
            }
            line = line.replace(EMAIL_LIKE, '[email]');
            sink(line);
        },
    };
}

export const stdoutSink: LogSink = (line) => {
    process.stdout.write(line + '\n');
};

export const silentSink: LogSink = () => {};
