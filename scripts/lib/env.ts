/**
 * Settings of the build and device scripts: real environment variables first, then an untracked `.env` file
 * (dotenv), then command-line flags on top (flags are applied by the callers).
 *
 *   ROKU_HOST               IP or name of the Roku (developer mode on)
 *   ROKU_PASSWORD           developer web server password (user rokudev)
 *   ROKU_SIGNING_PASSWORD   password of the device's signing key (npm run sign)
 *   ROKU_HTTP_PORT          developer web server port (default 80)
 *   ROKU_ECP_PORT           ECP port (default 8060)
 *   ROKU_CONSOLE_PORT       BrightScript console port (default 8085)
 *   ROKU_TEST_TIMEOUT       npm run test:device time limit (default 300s)
 */
import * as dotenv from 'dotenv';
import * as fs from 'fs';
import * as path from 'path';

export const ENV_KEYS = [
    'ROKU_HOST',
    'ROKU_PASSWORD',
    'ROKU_SIGNING_PASSWORD',
    'ROKU_HTTP_PORT',
    'ROKU_ECP_PORT',
    'ROKU_CONSOLE_PORT',
    'ROKU_TEST_TIMEOUT'
] as const;

export const DEFAULT_PORTS = { http: 80, ecp: 8060, console: 8085 } as const;

export interface LoadedEnv {
    /** The merged environment: real variables win over the file's. */
    env: NodeJS.ProcessEnv;
    /** The .env file that was read, if any. */
    file?: string;
}

/**
 * Reads `<cwd>/.env` (or `envFile`) into a copy of `env`, never overriding a variable that is
 * already set. `process.env` itself is not modified. An empty value, in the file or in the real
 * environment, means "not set": it is left out of the result (a copied .env.example has every
 * name with an empty value, and must behave like no file at all).
 */
export function loadEnv(opts: { cwd?: string; envFile?: string; env?: NodeJS.ProcessEnv } = {}): LoadedEnv {
    const base = withoutEmpty(opts.env ?? process.env);
    const file = opts.envFile ? path.resolve(opts.cwd ?? process.cwd(), opts.envFile) : path.join(opts.cwd ?? process.cwd(), '.env');
    if (!fs.existsSync(file)) {
        if (opts.envFile) {
            throw new Error(`env file not found: ${file}`);
        }
        return { env: base };
    }
    let parsed: Record<string, string>;
    try {
        parsed = dotenv.parse(fs.readFileSync(file));
    } catch (e) {
        throw new Error(`could not read ${file}: ${(e as Error).message}`);
    }
    return { env: { ...withoutEmpty(parsed), ...base }, file };
}

/** A copy of `env` without its empty (or undefined) values. */
export function withoutEmpty(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const out: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(env)) {
        if (v !== undefined && v !== '') {
            out[k] = v;
        }
    }
    return out;
}

/** Parses a port from a flag or variable; undefined/empty gives the default. */
export function parsePort(value: string | undefined, fallback: number, name: string): number {
    if (value === undefined || value.trim() === '') {
        return fallback;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
        throw new Error(`${name} must be a port number (1-65535), not ${JSON.stringify(value)}`);
    }
    return n;
}

/**
 * Parses a duration: `90` (seconds), `90s`, `500ms`, `5m`. Returns milliseconds.
 */
export function parseDuration(value: string, name: string): number {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(value);
    if (!m) {
        throw new Error(`${name} must be a duration like 300, 90s, 500ms or 5m, not ${JSON.stringify(value)}`);
    }
    const n = Number(m[1]);
    const unit = (m[2] ?? 's').toLowerCase();
    const ms = unit === 'ms' ? n : unit === 'm' ? n * 60000 : n * 1000;
    if (ms <= 0) {
        throw new Error(`${name} must be more than 0`);
    }
    return Math.round(ms);
}
