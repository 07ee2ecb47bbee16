/**
 * npm run sideload -- [options]
 *
 * Builds the channel (prod target) and installs it on the Roku in developer mode. Connects to the
 * device's console first, so a compile failure is reported with the device's own error lines.
 */
import * as path from 'path';
import {
    checkCredentials,
    collectCompileLines,
    CompileFailure,
    ConsoleInUseError,
    connectConsole,
    DEVICE_FLAGS_HELP,
    DeviceError,
    describeDevice,
    resolveChannelZip,
    runCli,
    runDeviceScript,
    sideloadZip,
    type DeviceConsole,
    type DeviceScriptRun,
    type ScriptContext
} from './lib/device';

export const HELP = `usage: npm run sideload -- [options]

Builds the channel (prod target) and installs it on a Roku in developer mode.

channel options:
  --zip <file>           install this channel zip instead of building
  --staging <dir>        zip this channel folder (manifest at its root) and install it
  --follow               keep printing the device console after installing (Ctrl-C to stop)
  --remote-debug         ask the device to wait for a debugger (remotedebug=1)

${DEVICE_FLAGS_HELP}
exit codes: 0 installed, 1 failed (wrong password, unreachable, compile error …), 2 usage error
`;

export async function run(argv: string[], baseCtx: ScriptContext): Promise<number> {
    let con: DeviceConsole | undefined;
    const flags = {
        zip: { type: 'string' },
        staging: { type: 'string' },
        follow: { type: 'boolean' },
        'remote-debug': { type: 'boolean' }
    } as const;
    const main = async ({ ctx, values, cfg }: DeviceScriptRun): Promise<number> => {
        const { zipPath } = await resolveChannelZip(values, ctx, 'prod', path.join('out', 'device', 'sideload.zip'));
        await checkCredentials(cfg);
        const follow = values.follow === true;
        try {
            con = await connectConsole(cfg, (line) => {
                if (follow) {
                    ctx.stdout(line + '\n');
                }
            });
        } catch (err) {
            if (!(err instanceof DeviceError)) {
                throw err;
            }
            const why = err instanceof ConsoleInUseError ? 'the console is in use by another client' : err.message;
            ctx.stderr(`! ${why}; installing anyway, but compile errors cannot be shown\n`);
        }
        const from = con?.lines.length ?? 0;
        let message: string;
        try {
            message = (await sideloadZip(cfg, zipPath, { remoteDebug: values['remote-debug'] === true })).message;
        } catch (err) {
            if (err instanceof CompileFailure) {
                const lines = con ? await collectCompileLines(con, from) : ['(the device console was not available, so its error lines could not be read)'];
                throw new DeviceError(err.message, lines);
            }
            throw err;
        }
        ctx.stdout(`✔ installed ${path.relative(ctx.cwd, zipPath) || zipPath} on ${describeDevice(cfg)} (${message.toLowerCase()}); the channel is starting\n`);
        if (follow && con) {
            ctx.stdout('--- device console (Ctrl-C to stop) ---\n');
            const c = con;
            await new Promise<void>((resolve) => {
                const stop = () => {
                    c.close();
                    resolve();
                };
                process.once('SIGINT', stop);
                process.once('SIGTERM', stop);
                void c.closed.then(() => {
                    process.off('SIGINT', stop);
                    process.off('SIGTERM', stop);
                    resolve();
                });
            });
        }
        return 0;
    };
    return runDeviceScript(argv, baseCtx, { help: HELP, flags }, main, () => con?.close());
}

if (require.main === module) {
    runCli(run);
}
