/**
 * npm run sign -- [options]
 *
 * Makes a signed .pkg with the Roku's packager: installs the production zip (npm run package) on
 * the device, asks the device to package it with ROKU_SIGNING_PASSWORD, and downloads the .pkg into
 * out/package/. The device must be keyed (genkey, or Rekey with a package signed by your key).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
    checkCredentials,
    collectCompileLines,
    CompileFailure,
    connectConsole,
    buildProjectChannel,
    DEVICE_FLAGS_HELP,
    DeviceError,
    describeDevice,
    manifestOfZip,
    runCli,
    runDeviceScript,
    sha256,
    sideloadZip,
    str,
    UsageError,
    type DeviceConsole,
    type DeviceScriptRun,
    type ScriptContext
} from './lib/device';
import { buildNumber, packageChannel, slug } from './package';

export const HELP = `usage: npm run sign -- [options]

Signs the production channel with the Roku's packager and downloads the .pkg into out/package/.
The signing password comes from $ROKU_SIGNING_PASSWORD (or .env); it is never printed.

sign options:
  --zip <file>             sign this channel zip (default: build and package, as npm run package)
  --staging <dir>          package this channel folder, then sign it
  --out <file>             where to save the .pkg (default out/package/<title>-<version>.pkg)
  --rekey <file.pkg>       first rekey the device with a package signed by your key
  --signing-password <pw>  instead of $ROKU_SIGNING_PASSWORD (visible to other users in ps; prefer the variable)

${DEVICE_FLAGS_HELP}
exit codes: 0 signed, 1 failed, 2 usage error
`;

export async function run(argv: string[], baseCtx: ScriptContext): Promise<number> {
    let signingPassword: string | undefined;
    let con: DeviceConsole | undefined;
    let tmp: string | undefined;
    const flags = {
        zip: { type: 'string' },
        staging: { type: 'string' },
        out: { type: 'string' },
        rekey: { type: 'string' },
        'signing-password': { type: 'string' }
    } as const;
    const main = async ({ ctx, values, env, cfg }: DeviceScriptRun): Promise<number> => {
        signingPassword = str(values, 'signing-password') ?? env.ROKU_SIGNING_PASSWORD;
        if (!signingPassword) {
            throw new UsageError('missing ROKU_SIGNING_PASSWORD: the password of the key the Roku is keyed with', [
                'it was printed by `genkey` on the device (telnet <roku> 8080) when the key was made',
                'set it in the environment or in an untracked .env file (see .env.example)'
            ]);
        }
        const zipFlag = str(values, 'zip');
        const stagingFlag = str(values, 'staging');
        if (zipFlag && stagingFlag) {
            throw new UsageError('use either --zip or --staging, not both');
        }
        let zipPath: string;
        if (zipFlag) {
            zipPath = path.resolve(ctx.cwd, zipFlag);
            if (!fs.existsSync(zipPath)) {
                throw new UsageError(`no channel zip at ${zipPath}`);
            }
        } else {
            let stagingDir: string;
            if (stagingFlag) {
                stagingDir = path.resolve(ctx.cwd, stagingFlag);
            } else {
                stagingDir = (await buildProjectChannel(ctx, 'prod')).stagingDir;
            }
            zipPath = (await packageChannel({ stagingDir, build: buildNumber(undefined, env), cwd: ctx.cwd })).zipPath;
        }
        const manifest = (await manifestOfZip(zipPath)).values;
        const version = `${manifest.major_version ?? '0'}.${manifest.minor_version ?? '0'}.${manifest.build_version ?? '0'}`;
        const outPath = path.resolve(ctx.cwd, str(values, 'out') ?? path.join('out', 'package', `${slug(manifest.title ?? 'channel')}-${version}.pkg`));

        await checkCredentials(cfg);
        const { RokuDeploy, FailedDeviceResponseError } = await import('roku-deploy');
        const rd = new RokuDeploy();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roku-sign-'));
        const common = {
            host: cfg.host,
            password: cfg.password,
            username: 'rokudev',
            packagePort: cfg.httpPort,
            remotePort: cfg.ecpPort,
            rootDir: tmp,
            files: ['manifest'],
            stagingDir: tmp,
            retainStagingDir: true,
            timeout: 120000,
            logLevel: 'error' as never
        };

        const rekey = str(values, 'rekey');
        if (rekey) {
            const pkg = path.resolve(ctx.cwd, rekey);
            if (!fs.existsSync(pkg)) {
                throw new UsageError(`no package to rekey with at ${pkg}`);
            }
            ctx.stdout(`Rekeying ${describeDevice(cfg)} with ${path.relative(ctx.cwd, pkg) || pkg}…\n`);
            try {
                await rd.rekeyDevice({ ...common, rekeySignedPackage: pkg, signingPassword, outDir: tmp, outFile: 'rekey' });
            } catch (err) {
                throw new DeviceError(`the Roku refused to rekey: ${(err as Error).message.replace(/^Rekey Failure: (Failed: )?/, '')}`, [
                    'the signing password must be the one of the key that signed that package'
                ]);
            }
        }

        try {
            con = await connectConsole(cfg, () => undefined);
        } catch (err) {
            if (!(err instanceof DeviceError)) {
                throw err;
            }
            ctx.stderr(`! ${err.message}; continuing without the device console\n`);
        }
        ctx.stdout(`Installing ${path.relative(ctx.cwd, zipPath) || zipPath} on ${describeDevice(cfg)}…\n`);
        const from = con?.lines.length ?? 0;
        try {
            await sideloadZip(cfg, zipPath);
        } catch (err) {
            if (err instanceof CompileFailure) {
                throw new DeviceError(err.message, con ? await collectCompileLines(con, from) : []);
            }
            throw err;
        }
        con?.close();

        // The packager names the app after the manifest (title/major.minor), like the web UI.
        fs.writeFileSync(path.join(tmp, 'manifest'), (await manifestOfZip(zipPath)).text);
        ctx.stdout(`Signing ${manifest.title ?? 'the channel'} ${version}…\n`);
        let remotePkg: string;
        try {
            remotePkg = await rd.signExistingPackage({ ...common, signingPassword, outDir: tmp, outFile: 'sign' });
        } catch (err) {
            if (err instanceof FailedDeviceResponseError) {
                const reason = err.message.replace(/^Failed:\s*/, '');
                throw new DeviceError(`the Roku refused to sign the package: ${reason}`, [
                    /password/i.test(reason)
                        ? 'ROKU_SIGNING_PASSWORD must be the password of the key the Roku is keyed with (genkey on the device, or --rekey <a .pkg signed with your key>)'
                        : 'see the device\'s packager page for details'
                ]);
            }
            throw new DeviceError(`signing failed: ${(err as Error).message}`);
        }
        fs.mkdirSync(path.dirname(outPath), { recursive: true });
        const outFile = path.basename(outPath).replace(/\.pkg$/i, '');
        const saved = await rd.retrieveSignedPackage(remotePkg, { ...common, outDir: path.dirname(outPath), outFile });
        if (path.resolve(saved) !== outPath) {
            fs.renameSync(saved, outPath);
        }
        const bytes = fs.readFileSync(outPath);
        ctx.stdout(`✔ ${path.relative(ctx.cwd, outPath) || outPath}  ${bytes.length} bytes  sha256 ${sha256(bytes)}\n`);
        return 0;
    };
    return runDeviceScript(argv, baseCtx, { help: HELP, flags, secrets: () => [signingPassword] }, main, () => {
        con?.close();
        if (tmp) {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });
}

if (require.main === module) {
    runCli(run);
}
