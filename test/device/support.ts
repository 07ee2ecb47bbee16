/**
 * Helpers of the device tooling tests: throwaway channels, a captured script context, and fake
 * runners (test doubles of the simulator's startSimulatorSession) that print scripted lines.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Runner } from '../../emulators/roku/runner';
import type { ScriptContext } from '../../scripts/lib/device';
import type { ExitReason, SimulatorOptions, SimulatorResult, SimulatorSession } from '../../scripts/lib/simulator-types';
import type { FixtureRun, FixtureSuite, FixtureTest } from './rooibos-fixture';

export const MANIFEST = 'title=Device Test\nmajor_version=2\nminor_version=3\nbuild_version=0\nui_resolutions=fhd\n';

/** A 1x1 PNG. */
export const PNG_1X1 = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
    'base64'
);

/** Tests of the PurchaseFlow suite's selectPlan group, shared by the Rooibos runs of the parser and test:device tests. */
export const SELECT_PLAN = {
    storesPlan: { name: 'stores the chosen plan', status: 'PASS', line: 12 },
    ignoresUnknownPlan: { name: 'ignores an unknown plan', status: 'PASS', line: 20 },
    rejectsExpiredOffer: { name: 'rejects an expired offer', status: 'FAIL', line: 30, message: 'expected "expired" to equal "active"' }
} satisfies Record<string, FixtureTest>;

/** The PurchaseFlow suite, its selectPlan group holding `tests`. */
export function purchaseFlowSuite(...tests: FixtureTest[]): FixtureSuite {
    return { name: 'PurchaseFlow', file: 'pkg:/source/tests/PurchaseFlow.spec.brs', groups: [{ name: 'selectPlan', tests }] };
}

/** A Rooibos run of 3 passing tests in two suites, every test listed. */
export const PASSING_RUN: FixtureRun = {
    showOnlyFailures: false,
    suites: [
        purchaseFlowSuite(SELECT_PLAN.storesPlan, SELECT_PLAN.ignoresUnknownPlan),
        { name: 'CleengApi', file: 'pkg:/source/tests/CleengApi.spec.brs', groups: [{ name: 'login', tests: [{ name: 'sends the email', status: 'PASS', line: 8 }] }] }
    ]
};

const tmpRoots: string[] = [];

/** A new temporary folder, removed by `cleanupTemp()`. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `device-test-${prefix}-`));
    tmpRoots.push(dir);
    return dir;
}

export function cleanupTemp(): void {
    for (const dir of tmpRoots.splice(0)) {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Writes a channel folder (manifest + files) and returns its path. */
export function writeChannel(dir: string, files: Record<string, string | Buffer>): string {
    for (const [rel, content] of Object.entries(files)) {
        const file = path.join(dir, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content);
    }
    return dir;
}

export function helloChannel(dir: string, text = 'hello from the device test'): string {
    return writeChannel(dir, {
        manifest: MANIFEST,
        'source/main.brs': `sub main(args as dynamic)\n    print "${text}"\nend sub\n`
    });
}

export function brokenChannel(dir: string): string {
    return writeChannel(dir, {
        manifest: MANIFEST,
        'source/main.brs': 'sub main()\n    print "fine"\n    x = = 1\nend sub\n'
    });
}

export interface Captured extends ScriptContext {
    out: string[];
    err: string[];
    all(): string;
}

export function captureContext(env: NodeJS.ProcessEnv, cwd: string): Captured {
    const out: string[] = [];
    const err: string[] = [];
    return {
        env,
        cwd,
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
        out,
        err,
        all: () => out.join('') + err.join('')
    };
}

/** Environment pointing the scripts at a fake Roku. */
export function rokuEnv(roku: { host: string; ports: { http: number; ecp: number; console: number } }, password: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
        ROKU_HOST: roku.host,
        ROKU_PASSWORD: password,
        ROKU_HTTP_PORT: String(roku.ports.http),
        ROKU_ECP_PORT: String(roku.ports.ecp),
        ROKU_CONSOLE_PORT: String(roku.ports.console),
        ...extra
    };
}

export interface FakeRunnerCall {
    opts: SimulatorOptions;
    keys: string[];
    stopped: boolean;
}

export interface FakeRunnerScript {
    /** Lines to print, one every `intervalMs`. */
    lines?: string[];
    intervalMs?: number;
    /** How the run ends after the last line: close, crash, compile error, or run until stopped. Default `close`. */
    end?: 'close' | 'crash' | 'compile-error' | 'never';
    /** What `screenshot()` returns. */
    screenshot?: Buffer;
}

/**
 * A runner that prints scripted lines through `onLine` (as the simulator would) and records what it
 * was asked to do. `script` may depend on the launch (e.g. on the zip or launchParams).
 */
export function fakeRunner(script: FakeRunnerScript | ((opts: SimulatorOptions) => FakeRunnerScript)): { runner: Runner; calls: FakeRunnerCall[] } {
    const calls: FakeRunnerCall[] = [];
    const runner: Runner = async (opts) => {
        const s = typeof script === 'function' ? script(opts) : script;
        const call: FakeRunnerCall = { opts, keys: [], stopped: false };
        calls.push(call);
        const started = Date.now();
        const lines: string[] = [];
        let finished = false;
        let resolveDone!: (r: SimulatorResult) => void;
        const done = new Promise<SimulatorResult>((r) => (resolveDone = r));
        const timers: NodeJS.Timeout[] = [];
        const finish = (reason: ExitReason, message: string) => {
            if (finished) {
                return;
            }
            finished = true;
            timers.forEach(clearTimeout);
            resolveDone({ ok: reason === 'closed', reason, message, lines, registry: opts.registry ?? {}, durationMs: Date.now() - started, screenshots: [], registryWrites: 0 });
        };
        const emit = (line: string) => {
            if (!finished) {
                lines.push(line);
                opts.onLine?.(line);
            }
        };
        const all = s.lines ?? [];
        const interval = s.intervalMs ?? 2;
        all.forEach((line, i) => timers.push(setTimeout(() => emit(line), interval * (i + 1))));
        timers.push(
            setTimeout(
                () => {
                    if (s.end === 'never') {
                        return;
                    }
                    const reason: ExitReason = s.end === 'crash' ? 'crash' : s.end === 'compile-error' ? 'compile-error' : 'closed';
                    finish(reason, `the app ended: ${reason}`);
                },
                interval * (all.length + 1) + 5
            )
        );
        if (opts.timeoutMs) {
            const t = setTimeout(() => finish('timeout', 'timeout'), opts.timeoutMs);
            t.unref();
            timers.push(t);
        }
        const session: SimulatorSession = {
            pressKey: async (key) => {
                if (finished) {
                    throw new Error('the app is not running');
                }
                call.keys.push(key);
                emit(`key pressed: ${key}`);
            },
            screenshot: async () => {
                if (finished) {
                    throw new Error('the app is not running');
                }
                return s.screenshot ?? PNG_1X1;
            },
            done,
            stop: async () => {
                call.stopped = true;
                finish('stopped', 'stopped by the host');
                return done;
            }
        };
        return session;
    };
    return { runner, calls };
}

/** Waits until `check()` is true (polling), or fails after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 30000, what = 'condition'): Promise<void> {
    const start = Date.now();
    while (!check()) {
        if (Date.now() - start > timeoutMs) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, 10));
    }
}
