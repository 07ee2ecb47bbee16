/**
 * Shared helpers of the device scripts (sideload, test:device, package, sign, screenshot):
 * flags and settings, clear one-line errors, the BrightScript console client, sideloading over
 * roku-deploy, ECP, and deterministic zips.
 *
 * roku-deploy reads ./rokudeploy.json or ./bsconfig.json as silent defaults; every call here passes
 * rootDir, files, stagingDir, outDir and outFile explicitly so the project's bsconfig never leaks in.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import JSZip from 'jszip';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { DEFAULT_PORTS, loadEnv, parsePort } from './env';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CONSOLE_IN_USE_TEXT = 'Console connection is already in use.';

// ---------------------------------------------------------------------------------------------
// Script plumbing

export interface ScriptContext {
    env: NodeJS.ProcessEnv;
    cwd: string;
    stdout: (text: string) => void;
    stderr: (text: string) => void;
}

/** A failure to report as one clear line (plus optional detail lines), then exit non-zero. */
export class DeviceError extends Error {
    constructor(
        message: string,
        public readonly details: string[] = [],
        public readonly exitCode = 1
    ) {
        super(message);
    }
}

/** Wrong flags or missing settings: exit code 2. */
export class UsageError extends DeviceError {
    constructor(message: string, details: string[] = []) {
        super(message, details, 2);
    }
}

/**
 * Replaces every secret in `text` with `***`. A safety net (the scripts never print secrets on
 * purpose); secrets shorter than 4 characters are left alone, as masking them would garble the text.
 */
export function redact(text: string, secrets: (string | undefined)[]): string {
    let out = text;
    for (const s of secrets) {
        if (s && s.length >= 4) {
            out = out.split(s).join('***');
        }
    }
    return out;
}

/** Wraps a context so nothing written through it can contain the given secrets. */
export function guardedContext(ctx: ScriptContext, secrets: () => (string | undefined)[]): ScriptContext {
    return {
        ...ctx,
        stdout: (text) => ctx.stdout(redact(text, secrets())),
        stderr: (text) => ctx.stderr(redact(text, secrets()))
    };
}

export type ScriptMain = (argv: string[], ctx: ScriptContext) => Promise<number>;

/** Reports an error the way every script does: `✖ message` and indented details, on stderr. */
export function reportError(err: unknown, ctx: ScriptContext): number {
    if (err instanceof DeviceError) {
        ctx.stderr(`✖ ${err.message}\n`);
        for (const d of err.details) {
            ctx.stderr(`    ${d}\n`);
        }
        return err.exitCode;
    }
    const e = err as Error;
    ctx.stderr(`✖ unexpected error: ${e?.message ?? String(err)}\n`);
    if (process.env.DEBUG_DEVICE_SCRIPTS && e?.stack) {
        ctx.stderr(e.stack + '\n');
    }
    return 1;
}

/** Entry point for `ts-node scripts/<name>.ts`. */
export function runCli(main: ScriptMain): void {
    const ctx: ScriptContext = {
        env: process.env,
        cwd: process.cwd(),
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t)
    };
    main(process.argv.slice(2), ctx).then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            process.exitCode = reportError(err, ctx);
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Flags and settings

type OptionSpec = { type: 'string' | 'boolean'; short?: string };

export const DEVICE_FLAGS: Record<string, OptionSpec> = {
    host: { type: 'string' },
    password: { type: 'string' },
    'http-port': { type: 'string' },
    'ecp-port': { type: 'string' },
    'console-port': { type: 'string' },
    'env-file': { type: 'string' },
    help: { type: 'boolean', short: 'h' }
};

export const DEVICE_FLAGS_HELP = `device options (flags win over environment variables and .env):
  --host <ip>            the Roku ($ROKU_HOST)
  --password <pw>        developer web server password ($ROKU_PASSWORD; user is rokudev)
  --http-port <n>        developer web server port ($ROKU_HTTP_PORT, default 80)
  --ecp-port <n>         ECP port ($ROKU_ECP_PORT, default 8060)
  --console-port <n>     BrightScript console port ($ROKU_CONSOLE_PORT, default 8085)
  --env-file <file>      read settings from this file instead of ./.env
  -h, --help             this help
`;

export type FlagValues = Record<string, string | boolean | undefined>;

export function parseFlags(argv: string[], extra: Record<string, OptionSpec>): FlagValues {
    try {
        const { values, positionals } = parseArgs({ args: argv, options: { ...DEVICE_FLAGS, ...extra }, strict: true, allowPositionals: true });
        if (positionals.length > 0) {
            throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}`);
        }
        return values as FlagValues;
    } catch (err) {
        throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), ['run with --help for the options']);
    }
}

export function str(values: FlagValues, key: string): string | undefined {
    const v = values[key];
    return typeof v === 'string' ? v : undefined;
}

export interface DeviceConfig {
    host: string;
    password: string;
    httpPort: number;
    ecpPort: number;
    consolePort: number;
}

/** Loads .env (without overriding real variables) and returns the merged environment. */
export function scriptEnv(values: FlagValues, ctx: ScriptContext): NodeJS.ProcessEnv {
    try {
        return loadEnv({ cwd: ctx.cwd, envFile: str(values, 'env-file'), env: ctx.env }).env;
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
}

export function deviceConfig(values: FlagValues, env: NodeJS.ProcessEnv): DeviceConfig {
    const host = (str(values, 'host') ?? env.ROKU_HOST ?? '').trim();
    const password = str(values, 'password') ?? env.ROKU_PASSWORD ?? '';
    const missing: string[] = [];
    if (!host) {
        missing.push('ROKU_HOST (or --host): the Roku\'s IP address');
    }
    if (!password) {
        missing.push('ROKU_PASSWORD (or --password): the developer password set when enabling developer mode');
    }
    if (missing.length > 0) {
        throw new UsageError(`missing device settings: ${missing.map((m) => m.split(' ')[0]).join(', ')}`, [
            ...missing,
            'set them in the environment or in an untracked .env file (see .env.example)'
        ]);
    }
    try {
        return {
            host,
            password,
            httpPort: parsePort(str(values, 'http-port') ?? env.ROKU_HTTP_PORT, DEFAULT_PORTS.http, 'the developer web server port (--http-port / ROKU_HTTP_PORT)'),
            ecpPort: parsePort(str(values, 'ecp-port') ?? env.ROKU_ECP_PORT, DEFAULT_PORTS.ecp, 'the ECP port (--ecp-port / ROKU_ECP_PORT)'),
            consolePort: parsePort(str(values, 'console-port') ?? env.ROKU_CONSOLE_PORT, DEFAULT_PORTS.console, 'the console port (--console-port / ROKU_CONSOLE_PORT)')
        };
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
}

export function describeDevice(cfg: DeviceConfig): string {
    return cfg.httpPort === DEFAULT_PORTS.http ? cfg.host : `${cfg.host}:${cfg.httpPort}`;
}

/** What a device script's body gets from `runDeviceScript`. */
export interface DeviceScriptRun {
    /** The script's context, with every secret redacted from what is written through it. */
    ctx: ScriptContext;
    values: FlagValues;
    /** The environment merged with .env (or --env-file). */
    env: NodeJS.ProcessEnv;
    cfg: DeviceConfig;
}

export interface DeviceScriptSpec {
    /** Printed for -h / --help. */
    help: string;
    /** The script's own flags, besides the device flags. */
    flags: Record<string, OptionSpec>;
    /** More secrets to redact (besides the device password, ROKU_PASSWORD and ROKU_SIGNING_PASSWORD). */
    secrets?: () => (string | undefined)[];
}

/**
 * The frame every device script runs in: output with secrets redacted; the device flags and the
 * script's own (--help prints the help and exits 0); .env and the device settings; any error
 * reported as `✖ …` with its exit code. `cleanup` runs last, after the error has been reported.
 */
export async function runDeviceScript(
    argv: string[],
    baseCtx: ScriptContext,
    spec: DeviceScriptSpec,
    main: (run: DeviceScriptRun) => Promise<number>,
    cleanup?: () => unknown
): Promise<number> {
    let cfg: DeviceConfig | undefined;
    let env: NodeJS.ProcessEnv = baseCtx.env;
    const ctx = guardedContext(baseCtx, () => [cfg?.password, ...(spec.secrets?.() ?? []), env.ROKU_PASSWORD, env.ROKU_SIGNING_PASSWORD]);
    try {
        const values = parseFlags(argv, spec.flags);
        if (values.help) {
            ctx.stdout(spec.help);
            return 0;
        }
        env = scriptEnv(values, ctx);
        cfg = deviceConfig(values, env);
        return await main({ ctx, values, env, cfg });
    } catch (err) {
        return reportError(err, ctx);
    } finally {
        await cleanup?.();
    }
}

// ---------------------------------------------------------------------------------------------
// Talking to the device

function errorCode(err: unknown): string | undefined {
    let e = err as { code?: string; cause?: unknown } | undefined;
    for (let i = 0; i < 5 && e; i++) {
        if (typeof e.code === 'string' && /^E[A-Z]+/.test(e.code)) {
            return e.code;
        }
        e = e.cause as typeof e;
    }
    return undefined;
}

/** The innermost error message (fetch wraps the real cause: `fetch failed` -> `bad port`). */
function innermostMessage(err: unknown): string | undefined {
    let e = err as { message?: string; cause?: unknown } | undefined;
    let message: string | undefined;
    for (let i = 0; i < 5 && e; i++) {
        if (typeof e.message === 'string' && e.message) {
            message = e.message;
        }
        e = e.cause as typeof e;
    }
    return message;
}

function unreachable(cfg: DeviceConfig, port: number, err: unknown, what: string): DeviceError {
    const code = errorCode(err) ?? innermostMessage(err) ?? 'no answer';
    const hint =
        code === 'ECONNREFUSED'
            ? 'nothing is listening there: is developer mode on, and is the port right?'
            : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
              ? 'the host name does not resolve'
              : 'is the Roku on, awake and on this network?';
    return new DeviceError(`cannot reach the Roku's ${what} at ${cfg.host}:${port} (${code}): ${hint}`);
}

/**
 * Checks that the developer web server answers and accepts the password (HEAD /plugin_install
 * with digest auth), so later failures are not mistaken for credential problems.
 */
export async function checkCredentials(cfg: DeviceConfig, timeoutMs = 5000): Promise<void> {
    const { RokuDeploy, DeviceUnreachableError } = await import('roku-deploy');
    const rd = new RokuDeploy();
    let ok: boolean;
    try {
        ok = await rd.validateDeveloperPassword({ host: cfg.host, port: cfg.httpPort, password: cfg.password, timeout: timeoutMs });
    } catch (err) {
        if (err instanceof DeviceUnreachableError) {
            const cause = (err as unknown as { results?: unknown }).results ?? err;
            if ((cause as Error)?.name === 'AbortError' || /aborted/i.test(String((cause as Error)?.message))) {
                throw new DeviceError(`the Roku at ${cfg.host}:${cfg.httpPort} did not answer within ${timeoutMs} ms: is it on and on this network?`);
            }
            throw unreachable(cfg, cfg.httpPort, cause, 'developer web server');
        }
        throw new DeviceError(`unexpected answer from ${cfg.host}:${cfg.httpPort}: ${(err as Error).message} (is this a Roku's developer web server?)`);
    }
    if (!ok) {
        throw new DeviceError(
            `the Roku at ${describeDevice(cfg)} rejected the developer password (HTTP 401): check ROKU_PASSWORD / --password (the user is always rokudev)`
        );
    }
}

export interface SideloadResult {
    /** `Successful deploy` or `Identical to previous version -- not replacing`. */
    message: string;
}

export class CompileFailure extends DeviceError {}

/**
 * Installs a channel zip (mysubmit=Replace, then Install) and starts it. Throws DeviceError with a
 * clear message for a wrong password, an unreachable device, or a compile failure (the device's
 * own messages as details).
 */
export async function sideloadZip(cfg: DeviceConfig, zipPath: string, opts: { remoteDebug?: boolean; timeoutMs?: number } = {}): Promise<SideloadResult> {
    const { RokuDeploy, CompileError, UnauthorizedDeviceResponseError, FailedDeviceResponseError } = await import('roku-deploy');
    const rd = new RokuDeploy();
    const absZip = path.resolve(zipPath);
    if (!fs.existsSync(absZip)) {
        throw new UsageError(`no channel zip at ${absZip}`);
    }
    const scratch = path.join(os.tmpdir(), 'roku-device-scripts');
    try {
        const result = await rd.publish({
            host: cfg.host,
            password: cfg.password,
            username: 'rokudev',
            packagePort: cfg.httpPort,
            remotePort: cfg.ecpPort,
            rootDir: path.dirname(absZip),
            files: [path.basename(absZip)],
            stagingDir: path.join(scratch, 'staging'),
            outDir: path.dirname(absZip),
            outFile: path.basename(absZip),
            retainDeploymentArchive: true,
            failOnCompileError: true,
            remoteDebug: opts.remoteDebug ?? false,
            timeout: opts.timeoutMs ?? 120000,
            logLevel: 'error' as never
        });
        return { message: result.message };
    } catch (err) {
        if (err instanceof CompileError) {
            const messages = (err as unknown as { rokuMessages?: { errors?: string[] } }).rokuMessages?.errors ?? [];
            throw new CompileFailure(`the Roku could not compile the channel (${messages[0] ?? 'Install Failure: Compilation Failed.'})`);
        }
        if (err instanceof UnauthorizedDeviceResponseError) {
            throw new DeviceError(`the Roku at ${describeDevice(cfg)} rejected the developer password (HTTP 401): check ROKU_PASSWORD / --password`);
        }
        if (err instanceof FailedDeviceResponseError) {
            throw new DeviceError(`the Roku refused the channel: ${err.message}`);
        }
        const code = errorCode(err);
        if (code) {
            throw unreachable(cfg, cfg.httpPort, err, 'developer web server');
        }
        throw new DeviceError(`sideloading failed: ${(err as Error).message}`);
    }
}

/** POST an ECP command (e.g. `keypress/Home`). */
export async function ecpPost(cfg: DeviceConfig, command: string, timeoutMs = 3000): Promise<void> {
    let res: Response;
    try {
        res = await fetch(`http://${cfg.host}:${cfg.ecpPort}/${command}`, { method: 'POST', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
        throw unreachable(cfg, cfg.ecpPort, err, 'ECP service');
    }
    await res.arrayBuffer();
    if (!res.ok) {
        throw new DeviceError(`ECP ${command} answered HTTP ${res.status}`);
    }
}

// ---------------------------------------------------------------------------------------------
// The BrightScript console (port 8085)

/** Splits a TCP stream into lines; drops telnet negotiation bytes and `\r`. */
export class LineSplitter {
    private partial = '';
    constructor(private readonly onLine: (line: string) => void) {}

    push(chunk: Buffer | string): void {
        let text = typeof chunk === 'string' ? chunk : stripTelnet(chunk).toString('utf8');
        text = this.partial + text;
        const parts = text.split('\n');
        this.partial = parts.pop() ?? '';
        for (const p of parts) {
            this.onLine(p.replace(/\r$/, ''));
        }
    }

    flush(): void {
        if (this.partial.length > 0) {
            const rest = this.partial.replace(/\r$/, '');
            this.partial = '';
            this.onLine(rest);
        }
    }
}

function stripTelnet(buf: Buffer): Buffer {
    if (!buf.includes(0xff)) {
        return buf;
    }
    const out: number[] = [];
    for (let i = 0; i < buf.length; i++) {
        if (buf[i] === 0xff && i + 1 < buf.length) {
            const cmd = buf[i + 1];
            if (cmd === 0xff) {
                out.push(0xff);
                i++;
            } else if (cmd >= 0xfb && cmd <= 0xfe) {
                i += 2; // WILL/WONT/DO/DONT <option>
            } else {
                i++;
            }
            continue;
        }
        out.push(buf[i]);
    }
    return Buffer.from(out);
}

export class ConsoleInUseError extends DeviceError {}

export interface DeviceConsole {
    /** Every line received so far. */
    readonly lines: string[];
    /** Resolves with the first line (received from `fromIndex` on) that matches, or undefined on timeout/close. */
    waitFor(match: (line: string) => boolean, timeoutMs: number, fromIndex?: number): Promise<string | undefined>;
    /** Resolves when the device closes the connection. */
    readonly closed: Promise<void>;
    close(): void;
}

/**
 * Connects to the console before anything is installed, so no line is missed. A device allows one
 * client: when another one (a telnet window, the VS Code debugger) holds it, the device says so and
 * hangs up; that is reported as ConsoleInUseError.
 */
export function connectConsole(cfg: DeviceConfig, onLine: (line: string) => void, opts: { connectTimeoutMs?: number; settleMs?: number } = {}): Promise<DeviceConsole> {
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    const settleMs = opts.settleMs ?? 400;
    return new Promise((resolve, reject) => {
        const lines: string[] = [];
        const waiters = new Set<{ match: (l: string) => boolean; from: number; resolve: (l: string | undefined) => void }>();
        let settled = false;
        let early: string[] = [];
        const splitter = new LineSplitter((line) => {
            if (!settled) {
                early.push(line);
                return;
            }
            deliver(line);
        });
        const deliver = (line: string) => {
            lines.push(line);
            onLine(line);
            for (const w of [...waiters]) {
                if (lines.length - 1 >= w.from && w.match(line)) {
                    waiters.delete(w);
                    w.resolve(line);
                }
            }
        };
        const socket = net.connect({ host: cfg.host, port: cfg.consolePort });
        let resolveClosed!: () => void;
        const closed = new Promise<void>((r) => (resolveClosed = r));
        const connectTimer = setTimeout(() => {
            socket.destroy();
            reject(new DeviceError(`the Roku's console at ${cfg.host}:${cfg.consolePort} did not accept a connection within ${connectTimeoutMs} ms`));
        }, connectTimeoutMs);
        socket.on('data', (chunk) => splitter.push(chunk));
        socket.on('error', (err) => {
            clearTimeout(connectTimer);
            if (!settled) {
                settled = true;
                reject(unreachable(cfg, cfg.consolePort, err, 'console'));
            }
        });
        socket.on('close', () => {
            splitter.flush();
            clearTimeout(connectTimer);
            if (!settled) {
                settled = true;
                const inUse = early.some((l) => l.includes(CONSOLE_IN_USE_TEXT));
                const said = early.filter((l) => l.trim()).join(' ');
                reject(
                    inUse
                        ? new ConsoleInUseError(
                              `the Roku's console (${cfg.host}:${cfg.consolePort}) is already in use by another client: close the other telnet session or VS Code debug session, then retry`
                          )
                        : new DeviceError(
                              `the Roku's console at ${cfg.host}:${cfg.consolePort} hung up right away${said ? `: ${said}` : ' (is another client using it?)'}`
                          )
                );
            }
            for (const w of waiters) {
                w.resolve(undefined);
            }
            waiters.clear();
            resolveClosed();
        });
        socket.on('connect', () => {
            clearTimeout(connectTimer);
            socket.setNoDelay(true);
            // A device that refuses the connection says so and hangs up right away.
            setTimeout(() => {
                if (settled) {
                    return;
                }
                if (early.some((l) => l.includes(CONSOLE_IN_USE_TEXT))) {
                    return; // the close handler reports it
                }
                settled = true;
                const pending = early;
                early = [];
                for (const l of pending) {
                    deliver(l);
                }
                resolve({
                    lines,
                    closed,
                    waitFor: (match, timeoutMs, fromIndex = 0) =>
                        new Promise((res) => {
                            for (let i = fromIndex; i < lines.length; i++) {
                                if (match(lines[i])) {
                                    res(lines[i]);
                                    return;
                                }
                            }
                            if (socket.destroyed) {
                                res(undefined);
                                return;
                            }
                            const w = {
                                match,
                                from: fromIndex,
                                resolve: (l: string | undefined) => {
                                    clearTimeout(t);
                                    res(l);
                                }
                            };
                            const t = setTimeout(() => {
                                waiters.delete(w);
                                res(undefined);
                            }, timeoutMs);
                            waiters.add(w);
                        }),
                    close: () => socket.destroy()
                });
            }, settleMs);
        });
    });
}

/** Lines that mean the channel did not compile on the device. */
export const COMPILE_ERROR_LINE = /\((?:compile|syntax) error(?: &h[0-9a-f]+)?\)|ERROR compiling|^-+>\s*No manifest|Error parsing XML component|Found \d+ (?:compile|parse) errors? in/i;
/** Lines that mean the channel crashed. */
export const CRASH_LINE = /\(runtime error(?: &h[0-9a-f]+)?\) in |^BrightScript Micro Debugger\./i;

/** After a compile failure, the device's own error lines (waiting briefly for them to arrive). */
export async function collectCompileLines(con: DeviceConsole, fromIndex: number, waitMs = 2000): Promise<string[]> {
    await con.waitFor((l) => /ERROR compiling|^-+>\s*No manifest/i.test(l), waitMs, fromIndex);
    // Give trailing lines a moment.
    await new Promise((r) => setTimeout(r, 100));
    const lines = con.lines.slice(fromIndex);
    const start = lines.findIndex((l) => /^------ Compiling/.test(l));
    const relevant = (start >= 0 ? lines.slice(start) : lines).filter((l) => l.trim().length > 0);
    return relevant.length > 0 ? relevant : ['(the device printed nothing on its console)'];
}

// ---------------------------------------------------------------------------------------------
// Channel zips

/** A fixed timestamp for every zip entry, so a zip depends only on its contents. */
export const FIXED_ZIP_DATE = new Date(Date.UTC(2020, 0, 1, 0, 0, 0));

const SKIP_FILES = /(^|\/)(\.DS_Store|Thumbs\.db|desktop\.ini)$|\.map$/i;

/** Files of a folder, relative with forward slashes, sorted by code point. */
export function listFiles(dir: string): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
        for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const relPath = rel ? `${rel}/${entry.name}` : entry.name;
            if (entry.isDirectory()) {
                walk(relPath);
            } else if (entry.isFile() && !SKIP_FILES.test(relPath)) {
                out.push(relPath);
            }
        }
    };
    walk('');
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Zips a channel folder deterministically: sorted entries, no folder entries, a fixed date, no
 * permissions, DEFLATE level 9 (images STORE, as they are compressed already). The same files
 * always give the same bytes.
 */
export async function deterministicZip(dir: string, rewrite?: (relPath: string, data: Buffer) => Buffer): Promise<Buffer> {
    if (!fs.existsSync(path.join(dir, 'manifest'))) {
        throw new UsageError(`${dir} has no manifest: not a channel folder`);
    }
    const zip = new JSZip();
    for (const rel of listFiles(dir)) {
        let data: Buffer = fs.readFileSync(path.join(dir, rel));
        if (rewrite) {
            data = rewrite(rel, data);
        }
        const stored = /\.(png|jpe?g|gif|webp|mp3|mp4|zip|pkg)$/i.test(rel);
        zip.file(rel, data, {
            date: FIXED_ZIP_DATE,
            createFolders: false,
            compression: stored ? 'STORE' : 'DEFLATE',
            compressionOptions: stored ? null : { level: 9 }
        });
    }
    return zip.generateAsync({ type: 'nodebuffer', platform: 'DOS', streamFiles: false });
}

export function sha256(data: Buffer): string {
    return createHash('sha256').update(data).digest('hex');
}

/** Reads the manifest of a channel zip. */
export async function manifestOfZip(zipPath: string): Promise<{ text: string; values: Record<string, string> }> {
    const zip = await JSZip.loadAsync(fs.readFileSync(zipPath));
    const entry = zip.file('manifest');
    if (!entry) {
        throw new UsageError(`${zipPath} has no manifest at its root: not a channel zip`);
    }
    const text = await entry.async('string');
    return { text, values: parseManifestText(text) };
}

export function parseManifestText(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
        const m = /^\s*([A-Za-z0-9_.-]+)\s*=(.*)$/.exec(line);
        if (m && !line.trim().startsWith('#')) {
            out[m[1]] = m[2].trim();
        }
    }
    return out;
}

/**
 * The channel zip a script works on: `--zip <file>` as is, `--staging <dir>` zipped
 * deterministically into `outZip`, otherwise the project's own build (`buildChannel`).
 */
export async function resolveChannelZip(
    values: FlagValues,
    ctx: ScriptContext,
    target: 'prod' | 'test',
    outZip: string
): Promise<{ zipPath: string; stagingDir?: string; built: boolean }> {
    const zipFlag = str(values, 'zip');
    const stagingFlag = str(values, 'staging');
    if (zipFlag && stagingFlag) {
        throw new UsageError('use either --zip or --staging, not both');
    }
    if (zipFlag) {
        const zipPath = path.resolve(ctx.cwd, zipFlag);
        if (!fs.existsSync(zipPath)) {
            throw new UsageError(`no channel zip at ${zipPath}`);
        }
        return { zipPath, built: false };
    }
    if (stagingFlag) {
        const stagingDir = path.resolve(ctx.cwd, stagingFlag);
        if (!fs.existsSync(stagingDir) || !fs.statSync(stagingDir).isDirectory()) {
            throw new UsageError(`no channel folder at ${stagingDir}`);
        }
        const zipPath = path.resolve(ctx.cwd, outZip);
        fs.mkdirSync(path.dirname(zipPath), { recursive: true });
        fs.writeFileSync(zipPath, await deterministicZip(stagingDir));
        return { zipPath, stagingDir, built: false };
    }
    const result = await buildProjectChannel(ctx, target);
    return { zipPath: result.zipPath, stagingDir: result.stagingDir, built: true };
}

/** Builds the project's own channel (`buildChannel`); a failed build is a DeviceError with its diagnostics. */
export async function buildProjectChannel(ctx: ScriptContext, target: 'prod' | 'test'): Promise<{ zipPath: string; stagingDir: string }> {
    ctx.stdout(`Building the ${target} channel…\n`);
    const build = await import('../build');
    try {
        return await build.buildChannel({ target });
    } catch (err) {
        if (err instanceof build.BuildError) {
            throw new DeviceError(`the ${target} build failed: ${err.message}`, err.diagnostics);
        }
        throw err;
    }
}

/** Extracts a channel zip into a new temporary folder (the caller removes it). */
export async function readZipToFolder(zipPath: string): Promise<string> {
    if (!fs.existsSync(zipPath)) {
        throw new UsageError(`no channel zip at ${zipPath}`);
    }
    let zip: JSZip;
    try {
        zip = await JSZip.loadAsync(fs.readFileSync(zipPath));
    } catch {
        throw new UsageError(`${zipPath} is not a zip`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roku-channel-'));
    for (const entry of Object.values(zip.files)) {
        const file = path.resolve(dir, entry.name);
        if (!file.startsWith(dir + path.sep)) {
            continue; // no path traversal out of the folder
        }
        if (entry.dir) {
            fs.mkdirSync(file, { recursive: true });
        } else {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, await entry.async('nodebuffer'));
        }
    }
    return dir;
}
