/**
 * pino, one JSON object per line. Callers log only safe fields (route, status, request ID, purchase
 * and owner references, error kinds). `redact` removes the fields that could hold an email, a token
 * or a key wherever they turn up, and as a last line of defence every line is scrubbed of the
 * configured secrets and of anything shaped like an email address before it is written.
 */
import pino from 'pino';

export type LogSink = (line: string) => void;
export type Logger = pino.Logger;

const EMAIL_LIKE = /[^\s"'<>@\\]+@[^\s"'<>@\\]+\.[^\s"'<>@\\]+/g;

/** Field paths never written (any depth the relay logs at). */
export const REDACT_PATHS = [
    'customerEmail',
    'email',
    'token',
    'checkToken',
    'publisherToken',
    'customerToken',
    'attestation',
    'apiKey',
    '*.customerEmail',
    '*.email',
    '*.token',
    '*.checkToken',
    '*.publisherToken',
    '*.customerToken',
    '*.attestation',
    'headers["x-publisher-token"]',
    'headers.authorization',
    '*.headers["x-publisher-token"]',
    '*.headers.authorization',
];

export function createLogger(sink: LogSink | undefined, secrets: string[] = []): Logger {
    const redact = secrets.filter((s) => s.length >= 4);
    const scrub = (line: string): string => {
        for (const s of redact) {
            if (line.includes(s)) {
                line = line.split(s).join('[redacted]');
            }
        }
        return line.replace(EMAIL_LIKE, '[email]');
    };
    const destination = sink
        ? { write: (line: string) => sink(line.endsWith('\n') ? line.slice(0, -1) : line) }
        : // Asynchronous: a line is queued and written with the next batch instead of blocking the event
          // loop on every write (pino flushes what is queued when the process exits).
          pino.destination({ dest: 1, sync: false });
    return pino(
        {
            level: 'info',
            base: undefined,
            timestamp: pino.stdTimeFunctions.isoTime,
            formatters: { level: (label) => ({ level: label }) },
            redact: { paths: REDACT_PATHS, censor: '[redacted]' },
            hooks: { streamWrite: scrub },
        },
        destination,
    );
}

export const silentSink: LogSink = () => {};

/** What the request handlers and the upstream calls log with: a line of safe fields and a message. */
export interface LineLog {
    info(fields: Record<string, unknown>, msg: string): void;
    warn(fields: Record<string, unknown>, msg: string): void;
}

/**
 * `log` with `fields` added to every line. Cheaper than a pino child per request (a child copies
 * and serialises its bindings up front, for lines most requests never write).
 */
export function withFields(log: LineLog, fields: Record<string, unknown>): LineLog {
    return {
        info: (more, msg) => log.info({ ...fields, ...more }, msg),
        warn: (more, msg) => log.warn({ ...fields, ...more }, msg),
    };
}
