/**
 * npm run screenshot -- [options]
 *
 * Saves what the Roku's screen shows (the sideloaded channel must be running) to a file.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
    checkCredentials,
    DEVICE_FLAGS_HELP,
    DeviceError,
    describeDevice,
    runCli,
    runDeviceScript,
    str,
    type DeviceScriptRun,
    type ScriptContext
} from './lib/device';

export const HELP = `usage: npm run screenshot -- [options]

Saves a screenshot of the running dev channel.

screenshot options:
  --out <file>           where to save it (default out/screenshots/roku-<date>.<png|jpg>;
                         the device decides the format; the extension is adjusted to match)

${DEVICE_FLAGS_HELP}
exit codes: 0 saved, 1 failed, 2 usage error
`;

function stamp(d = new Date()): string {
    return d.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
}

export async function run(argv: string[], baseCtx: ScriptContext): Promise<number> {
    let tmp: string | undefined;
    const main = async ({ ctx, values, cfg }: DeviceScriptRun): Promise<number> => {
        const wanted = path.resolve(ctx.cwd, str(values, 'out') ?? path.join('out', 'screenshots', `roku-${stamp()}.png`));
        await checkCredentials(cfg);
        const { RokuDeploy } = await import('roku-deploy');
        const rd = new RokuDeploy();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roku-screenshot-'));
        let saved: string;
        try {
            saved = await rd.takeScreenshot({
                host: cfg.host,
                password: cfg.password,
                username: 'rokudev',
                packagePort: cfg.httpPort,
                rootDir: tmp,
                files: [],
                stagingDir: tmp,
                outDir: tmp,
                outFile: 'screen',
                timeout: 30000,
                logLevel: 'error' as never
            } as never);
        } catch (err) {
            const message = (err as Error).message;
            throw new DeviceError(
                `no screenshot from ${describeDevice(cfg)}: ${message}`,
                /no screen ?shot url|not running|no development application/i.test(message) ? ['a sideloaded channel must be running (npm run sideload)'] : []
            );
        }
        const ext = path.extname(saved).toLowerCase() || '.png';
        const outPath = path.extname(wanted).toLowerCase() === ext ? wanted : wanted.replace(/\.(png|jpe?g)$/i, '') + ext;
        fs.mkdirSync(path.dirname(outPath), { recursive: true });
        fs.copyFileSync(saved, outPath);
        const bytes = fs.statSync(outPath).size;
        if (bytes === 0) {
            throw new DeviceError(`the screenshot from ${describeDevice(cfg)} was empty`);
        }
        ctx.stdout(`✔ ${path.relative(ctx.cwd, outPath) || outPath}  ${bytes} bytes\n`);
        return 0;
    };
    return runDeviceScript(argv, baseCtx, { help: HELP, flags: { out: { type: 'string' } } }, main, () => {
        if (tmp) {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });
}

if (require.main === module) {
    runCli(run);
}
