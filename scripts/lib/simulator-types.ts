/**
 * Public types of the simulator runner (brs-engine + brs-scenegraph in headless Chromium).
 * The implementation lives in ./simulator.ts.
 */

/** One step of a scripted remote: press a key after a wait, or when the console prints something. */
export interface KeyStep {
    /** Roku key name as ECP spells it: Home, Select, Back, Up, Down, Left, Right, Play, Lit_a … */
    key?: string;
    /** Wait this many milliseconds (after the previous step) before acting. */
    waitMs?: number;
    /**
     * Wait until a console line contains this text (or matches this regexp) before acting. Only
     * lines after the line the previous `when` matched count, unless `anytime` is set.
     */
    when?: string | RegExp;
    /** Match `when` against every console line since the run started (a state reached earlier counts). */
    anytime?: boolean;
    /** Save a PNG screenshot of the TV under this name (in `screenshotsDir`) instead of / after pressing. */
    screenshot?: string;
}

export type ExitReason =
    | 'closed' // main() returned normally
    | 'crash' // BrightScript runtime error
    | 'compile-error' // the package did not compile
    | 'timeout' // did not close in time
    | 'rooibos-fail' // Rooibos reported a failure
    | 'stopped'; // stopped by the host

export interface RooibosSummary {
    total: number;
    passed: number;
    failed: number;
    crashed: number;
    ignored: number;
    result: 'PASS' | 'FAIL';
    /** Per-test lines: suite/group/test names with their status. */
    tests: { name: string; status: 'PASS' | 'FAIL' | 'CRASH' }[];
}

export interface SimulatorOptions {
    /** A channel zip (path or bytes) or a folder holding manifest + source/ + components/. */
    app: string | Buffer;
    /** Fail with `timeout` when the app has not closed this long after it started (main() was called). Default 60000. */
    timeoutMs?: number;
    /** Fail with `timeout` when the engine has not started the app this long after the run began. Default the larger of 120000 and timeoutMs. */
    startupTimeoutMs?: number;
    /** Deep-link style parameters handed to main(args). */
    launchParams?: Record<string, string>;
    /** Registry to seed before the run: section -> key -> value. */
    registry?: Record<string, Record<string, string>>;
    /** Scripted remote. */
    keys?: KeyStep[];
    /** Where screenshots go (created if missing). */
    screenshotsDir?: string;
    /** Every console line, as it arrives. */
    onLine?: (line: string) => void;
    /** Parse Rooibos output and fail the run when Rooibos reports FAIL. */
    rooibos?: boolean;
    /** Start Chromium with --disable-web-security so roUrlTransfer can reach servers without CORS. */
    disableWebSecurity?: boolean;
    /**
     * Run in the process's shared Chromium (a fresh browser context per run, so a fresh registry)
     * instead of starting one for this run. Default true unless SIM_SHARED_BROWSER=0.
     */
    sharedBrowser?: boolean;
    /** Called each time the channel writes its registry (a flush), with the count so far. */
    onRegistryWrite?: (count: number) => void;
}

export interface SimulatorResult {
    ok: boolean;
    reason: ExitReason;
    /** One line, human readable: why the run ended. */
    message: string;
    lines: string[];
    /** Registry after the run: section -> key -> value. */
    registry: Record<string, Record<string, string>>;
    rooibos?: RooibosSummary;
    /** Crash details: the error line and the backtrace lines. */
    crash?: { error: string; backtrace: string[] };
    durationMs: number;
    /** Paths of screenshots saved during the run. */
    screenshots: string[];
    /** How many times the channel wrote its registry (each flush of a section). */
    registryWrites: number;
    /** True when the run used a shared Chromium that an earlier run in this process had started. */
    browserReused?: boolean;
}

/** A running channel the host can drive while it runs. */
export interface SimulatorSession {
    /** Press a remote key (ECP name). */
    pressKey(key: string): Promise<void>;
    /** ECP input (`POST /input?…`): the channel gets an roInputEvent whose getInfo() holds `params` (the simulator has it; fakes may not). */
    sendInput?(params: Record<string, string>): Promise<void>;
    /** A PNG of the TV right now. */
    screenshot(): Promise<Buffer>;
    /** Resolves once, when the run ends for any reason. */
    readonly done: Promise<SimulatorResult>;
    /** End the run now (reason `stopped` unless it had already ended). */
    stop(): Promise<SimulatorResult>;
}
