/**
 * Runs a channel in the simulator (brs-engine + brs-scenegraph in headless Chromium) and exits
 * 0 when it closes normally, 1 on a crash, a compile error, a timeout or a failed Rooibos run.
 *
 *   npm run simulate -- --build prod                 build and run the channel
 *   npm run simulate -- --build test --rooibos       build and run the Rooibos suites
 *   npm run simulate -- --app out/prod.zip --key Select@2000 --screenshot home@3000
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildChannel, BuildError } from './build';
import { flagValue } from './lib/args';
import { runInSimulator } from './lib/simulator';
import type { KeyStep, SimulatorOptions } from './lib/simulator-types';

const USAGE = `usage: npm run simulate -- [options]
  --build prod|test|e2e  build first (test = Rooibos build for the simulator, e2e = channel + store emulator); default: prod unless --app
  --app <zip|folder>     run this channel instead of building
  --csfake <scenario|dir>  csFake scenario packaged with --build test or e2e: a folder under test/csfake/ or a path
                         (default new-viewer or CSFAKE_SCENARIO; never in a prod build, ignored with --app)
  --rooibos              read Rooibos' result; fail when it reports FAIL or never reports
  --timeout <ms>         fail when the app has not closed after this long (default 60000)
  --launch key=value     launch parameter for main(args) (repeatable)
  --registry <file>      JSON {section: {key: value}} seeded into the registry before the run
  --dump-registry <file> write the registry after the run as JSON
  --key <Key>[@ms]       press a remote key, after waiting ms since the previous step (repeatable)
  --when <text>=><Key>   press a key when a console line contains text (repeatable, in order)
  --screenshot <name>[@ms]  save a PNG of the TV (repeatable, in order with the keys)
  --keys <file>          JSON array of steps {key?, waitMs?, when?, anytime?, screenshot?}
  --screenshots <dir>    where screenshots go (default out/screenshots)
  --no-web-security      let roUrlTransfer reach servers that send no CORS headers
  --quiet                do not stream the console`;

interface CliOptions {
    build?: 'prod' | 'test' | 'e2e';
    run: SimulatorOptions;
    csfake?: string;
    dumpRegistry?: string;
    quiet: boolean;
}

function splitAt(value: string): [string, number] {
    const at = value.lastIndexOf('@');
    if (at > 0 && /^\d+$/.test(value.slice(at + 1))) {
        return [value.slice(0, at), Number(value.slice(at + 1))];
    }
    return [value, 0];
}

export function parseSimulateArgs(argv: string[]): CliOptions {
    const keys: KeyStep[] = [];
    const opts: CliOptions = { run: { app: '', keys }, quiet: false };
    const launchParams: Record<string, string> = {};
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = (): string => flagValue(argv, i++);
        switch (arg) {
            case '--build': {
                const b = value();
                if (b !== 'prod' && b !== 'test' && b !== 'e2e') {
                    throw new Error(`--build must be prod, test or e2e, not ${b}`);
                }
                opts.build = b;
                break;
            }
            case '--app':
                opts.run.app = value();
                break;
            case '--csfake':
                opts.csfake = value();
                break;
            case '--rooibos':
                opts.run.rooibos = true;
                break;
            case '--timeout':
                opts.run.timeoutMs = Number(value());
                if (!Number.isFinite(opts.run.timeoutMs) || opts.run.timeoutMs <= 0) {
                    throw new Error('--timeout needs a number of milliseconds');
                }
                break;
            case '--launch': {
                const v = value();
                const eq = v.indexOf('=');
                if (eq <= 0) {
                    throw new Error(`--launch needs key=value, not ${v}`);
                }
                launchParams[v.slice(0, eq)] = v.slice(eq + 1);
                break;
            }
            case '--registry':
                opts.run.registry = JSON.parse(fs.readFileSync(value(), 'utf8')) as Record<string, Record<string, string>>;
                break;
            case '--dump-registry':
                opts.dumpRegistry = value();
                break;
            case '--key': {
                const [key, waitMs] = splitAt(value());
                keys.push({ key, waitMs });
                break;
            }
            case '--when': {
                const v = value();
                const sep = v.lastIndexOf('=>');
                if (sep <= 0) {
                    throw new Error(`--when needs text=>Key, not ${v}`);
                }
                keys.push({ when: v.slice(0, sep), key: v.slice(sep + 2) });
                break;
            }
            case '--screenshot': {
                const [name, waitMs] = splitAt(value());
                keys.push({ screenshot: name, waitMs });
                break;
            }
            case '--keys': {
                const steps = JSON.parse(fs.readFileSync(value(), 'utf8')) as KeyStep[];
                if (!Array.isArray(steps)) {
                    throw new Error('--keys needs a JSON array of steps');
                }
                keys.push(...steps);
                break;
            }
            case '--screenshots':
                opts.run.screenshotsDir = value();
                break;
            case '--no-web-security':
                opts.run.disableWebSecurity = true;
                break;
            case '--quiet':
                opts.quiet = true;
                break;
            case '--help':
            case '-h':
                console.log(USAGE);
                process.exit(0);
                break;
            default:
                throw new Error(`unknown option ${arg}\n${USAGE}`);
        }
    }
    if (Object.keys(launchParams).length > 0) {
        opts.run.launchParams = launchParams;
    }
    if (!opts.run.app && !opts.build) {
        opts.build = 'prod';
    }
    return opts;
}

async function main(): Promise<number> {
    const opts = parseSimulateArgs(process.argv.slice(2));
    if (opts.build) {
        const built = await buildChannel({ target: opts.build, simulator: opts.build === 'test', csfake: opts.csfake });
        opts.run.app = built.zipPath;
        console.error(`built ${path.relative(process.cwd(), built.zipPath)} in ${(built.durationMs / 1000).toFixed(1)} s`);
    }
    if (!opts.quiet) {
        opts.run.onLine = (line) => console.log(line);
    }
    const result = await runInSimulator(opts.run);
    if (opts.dumpRegistry) {
        fs.writeFileSync(opts.dumpRegistry, JSON.stringify(result.registry, null, 2) + '\n');
    }
    for (const shot of result.screenshots) {
        console.error(`screenshot: ${path.relative(process.cwd(), shot)}`);
    }
    if (result.crash) {
        console.error(`crash: ${result.crash.error}`);
        for (const line of result.crash.backtrace) {
            console.error(`  ${line}`);
        }
    }
    if (result.rooibos) {
        const r = result.rooibos;
        console.error(`Rooibos: ${r.passed} passed, ${r.failed} failed, ${r.crashed} crashed, ${r.ignored} ignored of ${r.total}`);
    }
    console.error(`${result.ok ? 'OK' : 'FAILED'}: ${result.message} (${(result.durationMs / 1000).toFixed(1)} s)`);
    return result.ok ? 0 : 1;
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (err: unknown) => {
            if (err instanceof BuildError) {
                for (const d of err.diagnostics) {
                    console.error(d);
                }
            }
            console.error(`simulate failed: ${(err as Error).message}`);
            process.exit(1);
        }
    );
}
