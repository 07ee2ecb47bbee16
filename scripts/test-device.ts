/**
 * npm run test:device -- [options]
 *
 * Runs the Rooibos tests on a Roku: builds the test channel, connects to the device's console,
 * sideloads, streams the output, parses the Rooibos result and writes JUnit XML.
 * Exit code 0 only when Rooibos reports PASS.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
    checkCredentials,
    collectCompileLines,
    COMPILE_ERROR_LINE,
    CompileFailure,
    connectConsole,
    CRASH_LINE,
    DEVICE_FLAGS_HELP,
    DeviceError,
    describeDevice,
    ecpPost,
    resolveChannelZip,
    runCli,
    runDeviceScript,
    sideloadZip,
    str,
    UsageError,
    type DeviceConfig,
    type DeviceConsole,
    type DeviceScriptRun,
    type ScriptContext
} from './lib/device';
import { parseDuration } from './lib/env';
import { RooibosOutputParser, toJUnitXml, type RunError } from './lib/rooibos-output';

export const DEFAULT_TIMEOUT = '300s';
export const DEFAULT_JUNIT = path.join('out', 'test-results', 'device-junit.xml');

export const HELP = `usage: npm run test:device -- [options]

Builds the test channel (Rooibos), runs it on a Roku and reports the result.

test options:
  --zip <file>           run this test channel zip instead of building
  --staging <dir>        zip this channel folder (manifest at its root) and run it
  --timeout <duration>   give up when Rooibos has not finished after this long
                         ($ROKU_TEST_TIMEOUT; 300 = 300s; also 90s, 500ms, 5m; default ${DEFAULT_TIMEOUT})
  --junit <file>         JUnit XML report (default ${DEFAULT_JUNIT})
  --quiet                do not echo the device console (it is still parsed)
  --keep-open            leave the test channel running afterwards (default: press Home)
  --allow-no-tests       do not fail when Rooibos ran 0 tests

${DEVICE_FLAGS_HELP}
exit codes: 0 Rooibos PASS, 1 failures, crash, compile error, timeout or device problem, 2 usage error
`;

type Outcome =
    | { kind: 'finished' }
    | { kind: 'crash'; line: string }
    | { kind: 'compile'; line: string }
    | { kind: 'timeout' }
    | { kind: 'disconnected' };

export async function run(argv: string[], baseCtx: ScriptContext): Promise<number> {
    let con: DeviceConsole | undefined;
    const started = Date.now();
    const parser = new RooibosOutputParser();
    const properties: Record<string, string> = {};
    let keepOpen = false;
    /** The device the test channel was installed on (to be left with Home afterwards). */
    let installedOn: DeviceConfig | undefined;
    const flags = {
        zip: { type: 'string' },
        staging: { type: 'string' },
        timeout: { type: 'string' },
        junit: { type: 'string' },
        quiet: { type: 'boolean' },
        'keep-open': { type: 'boolean' },
        'allow-no-tests': { type: 'boolean' }
    } as const;
    const main = async ({ ctx, values, env, cfg }: DeviceScriptRun): Promise<number> => {
        let junitPath = path.resolve(ctx.cwd, DEFAULT_JUNIT);
        const writeJUnit = (errors: RunError[]) => {
            fs.mkdirSync(path.dirname(junitPath), { recursive: true });
            fs.writeFileSync(junitPath, toJUnitXml({ name: 'device', parsed: parser.result(), durationMs: Date.now() - started, errors, properties }));
            ctx.stdout(`JUnit report: ${path.relative(ctx.cwd, junitPath) || junitPath}\n`);
        };
        let timeoutMs: number;
        try {
            timeoutMs = parseDuration(str(values, 'timeout') ?? (env.ROKU_TEST_TIMEOUT || DEFAULT_TIMEOUT), 'the timeout (--timeout / ROKU_TEST_TIMEOUT)');
        } catch (err) {
            throw new UsageError((err as Error).message);
        }
        junitPath = path.resolve(ctx.cwd, str(values, 'junit') ?? DEFAULT_JUNIT);
        keepOpen = values['keep-open'] === true;
        const quiet = values.quiet === true;
        properties.host = describeDevice(cfg);

        const { zipPath } = await resolveChannelZip(values, ctx, 'test', path.join('out', 'device', 'test.zip'));
        properties.zip = path.relative(ctx.cwd, zipPath) || zipPath;
        await checkCredentials(cfg);

        // Outcome detection, fed by every console line.
        let settle: (o: Outcome) => void = () => undefined;
        const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
        let crashLine: string | undefined;
        let runStart = Number.MAX_SAFE_INTEGER;
        const onLine = (line: string) => {
            if (!quiet) {
                ctx.stdout(line + '\n');
            }
            parser.push(line);
            if (parser.finished) {
                settle({ kind: 'finished' });
                return;
            }
            const index = con ? con.lines.length - 1 : 0;
            if (index < runStart) {
                return;
            }
            if (COMPILE_ERROR_LINE.test(line)) {
                settle({ kind: 'compile', line });
            } else if (CRASH_LINE.test(line) && crashLine === undefined) {
                // Let the error line and backtrace arrive before giving up.
                crashLine = line;
                setTimeout(() => settle({ kind: 'crash', line: crashLine ?? line }), 1500).unref();
            } else if (crashLine !== undefined && /runtime error/i.test(line)) {
                crashLine = line;
            } else if (crashLine !== undefined && /AppExitComplete|^------ Finished|^Local Variables:/.test(line)) {
                // The backtrace is complete.
                settle({ kind: 'crash', line: crashLine });
            }
        };
        con = await connectConsole(cfg, onLine);
        runStart = con.lines.length;

        ctx.stdout(`Installing ${properties.zip} on ${describeDevice(cfg)}…\n`);
        try {
            await sideloadZip(cfg, zipPath);
            installedOn = cfg;
        } catch (err) {
            if (err instanceof CompileFailure) {
                const lines = await collectCompileLines(con, runStart);
                writeJUnit([{ name: 'compile', message: err.message, details: lines }]);
                throw new DeviceError(err.message, lines);
            }
            throw err;
        }
        const timer = setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
        void con.closed.then(() => settle({ kind: 'disconnected' }));
        const result = await outcome;
        clearTimeout(timer);

        const tail = (n: number) => con!.lines.slice(runStart).filter((l) => l.trim()).slice(-n);
        switch (result.kind) {
            case 'compile': {
                const lines = await collectCompileLines(con, runStart, 1000);
                writeJUnit([{ name: 'compile', message: `the channel did not compile: ${result.line.trim()}`, details: lines }]);
                throw new DeviceError(`the test channel did not compile on the device: ${result.line.trim()}`, lines);
            }
            case 'crash': {
                const from = con.lines.findIndex((l, i) => i >= runStart && CRASH_LINE.test(l));
                const lines = con.lines.slice(from, from + 20).filter((l) => l.trim());
                const errorLine = lines.find((l) => /runtime error/i.test(l)) ?? result.line;
                writeJUnit([{ name: 'crash', message: `the channel crashed: ${errorLine.trim()}`, details: lines }]);
                throw new DeviceError(`the test channel crashed outside a test: ${errorLine.trim()}`, lines);
            }
            case 'timeout': {
                const seconds = Math.round(timeoutMs / 100) / 10;
                writeJUnit([{ name: 'timeout', message: `no Rooibos result after ${seconds} s`, details: tail(15) }]);
                throw new DeviceError(`no Rooibos result after ${seconds} s (raise --timeout or ROKU_TEST_TIMEOUT); last console lines:`, tail(15));
            }
            case 'disconnected': {
                writeJUnit([{ name: 'console', message: 'the device closed the console connection before Rooibos finished', details: tail(15) }]);
                throw new DeviceError('the device closed the console connection before Rooibos finished', tail(15));
            }
            case 'finished':
                break;
        }

        const parsed = parser.result();
        const summary = parsed.summary;
        if (!summary) {
            writeJUnit([{ name: 'rooibos', message: 'Rooibos shut down without printing a result', details: tail(15) }]);
            throw new DeviceError('Rooibos shut down without printing a result', tail(15));
        }
        ctx.stdout(
            `\nRooibos on ${describeDevice(cfg)}: ${summary.total} tests, ${summary.passed} passed, ${summary.failed} failed, ${summary.crashed} crashed, ${summary.ignored} ignored: ${summary.result}\n`
        );
        for (const t of parsed.tests.filter((x) => x.status !== 'PASS')) {
            ctx.stdout(`  ✖ ${t.status} ${t.name}\n`);
            if (t.message) {
                ctx.stdout(`      ${t.message}\n`);
            }
            if (t.failedAt) {
                ctx.stdout(`      at ${t.failedAt}\n`);
            }
        }
        const noTests = summary.total === 0 && values['allow-no-tests'] !== true;
        writeJUnit(noTests ? [{ name: 'rooibos', message: 'Rooibos ran 0 tests' }] : []);
        if (noTests) {
            throw new DeviceError('Rooibos ran 0 tests (use --allow-no-tests if that is expected)');
        }
        if (summary.result !== 'PASS') {
            ctx.stderr(`✖ Rooibos reported FAIL on ${describeDevice(cfg)}\n`);
            return 1;
        }
        ctx.stdout(`✔ all tests passed on ${describeDevice(cfg)}\n`);
        return 0;
    };
    return runDeviceScript(argv, baseCtx, { help: HELP, flags }, main, async () => {
        con?.close();
        if (installedOn && !keepOpen) {
            // Leave the test channel (Rooibos keeps it open by default).
            await ecpPost(installedOn, 'keypress/Home').catch(() => undefined);
        }
    });
}

if (require.main === module) {
    runCli(run);
}
