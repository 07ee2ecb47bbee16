/**
 * Support for the embedding tests: the ropm package built once per process, and the test-only
 * pieces a test harness adds to a host channel (never part of the package).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startFakeRoku, type FakeRoku } from '../../emulators/roku/fake-roku';
import { simulatorRunner } from '../../emulators/roku/runner';
import { buildRopmPackage, type RopmBuildResult } from '../../scripts/build-ropm';
import { ecpPost, sideloadZip, type DeviceConfig } from '../../scripts/lib/device';
import { until } from '../device/support';

export const repoRoot = path.resolve(__dirname, '..', '..');

let built: Promise<RopmBuildResult> | undefined;

/**
 * The ropm package, built once per test process into a temp folder (so test files running side
 * by side never rebuild each other's package). Removed when the process exits.
 */
export function ropmPackage(): Promise<RopmBuildResult> {
    if (!built) {
        const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleengpay-ropm-'));
        process.on('exit', () => fs.rmSync(outDir, { recursive: true, force: true }));
        built = buildRopmPackage({ outDir });
    }
    return built;
}

/**
 * Copies the test-only store emulator into a host channel (components/test/StoreEmulator) and a
 * csFake scenario to <host>/csfake. A host built without autoImportComponentScript gets an
 * explicit <script> tag in the emulator's XML.
 */
export function injectStoreEmulator(hostDir: string, scenario = 'new-viewer', autoImport = false): void {
    const src = path.join(repoRoot, 'test', 'components', 'StoreEmulator');
    const dest = path.join(hostDir, 'components', 'test', 'StoreEmulator');
    fs.mkdirSync(dest, { recursive: true });
    fs.copyFileSync(path.join(src, 'StoreEmulator.bs'), path.join(dest, 'StoreEmulator.bs'));
    let xml = fs.readFileSync(path.join(src, 'StoreEmulator.xml'), 'utf8');
    if (!autoImport) {
        xml = xml.replace(/(<component [^>]*>)/, '$1\n    <script type="text/brightscript" uri="StoreEmulator.bs" />');
    }
    fs.writeFileSync(path.join(dest, 'StoreEmulator.xml'), xml);
    const fixtures = path.join(repoRoot, 'test', 'csfake', scenario);
    fs.mkdirSync(path.join(hostDir, 'csfake'), { recursive: true });
    for (const file of fs.readdirSync(fixtures)) {
        fs.copyFileSync(path.join(fixtures, file), path.join(hostDir, 'csfake', file));
    }
}

/** Every file under a folder, relative and sorted. */
export function filesUnder(dir: string, rel = ''): string[] {
    if (!fs.existsSync(path.join(dir, rel))) {
        return [];
    }
    const out: string[] = [];
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
        const relPath = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
            out.push(...filesUnder(dir, relPath));
        } else {
            out.push(relPath);
        }
    }
    return out.sort();
}

/** A fake Roku (emulators/roku) running channels in the simulator, driven over ECP. */
export interface EcpDevice {
    roku: FakeRoku;
    cfg: DeviceConfig;
    /** POST an ECP command, e.g. `input?contentId=x` or `keypress/Select`. */
    ecp(command: string): Promise<void>;
    /** Resolves with the index of the first console line at or after `from` that contains `text`. */
    line(text: string, from?: number, timeoutMs?: number): Promise<number>;
    close(): Promise<void>;
}

export async function startEcpDevice(): Promise<EcpDevice> {
    const password = 'Deep-Link-Pw';
    const roku = await startFakeRoku({ password, runner: await simulatorRunner() });
    const cfg: DeviceConfig = { host: roku.host, password, httpPort: roku.ports.http, ecpPort: roku.ports.ecp, consolePort: roku.ports.console };
    const line = async (text: string, from = 0, timeoutMs = 90000): Promise<number> => {
        let found = -1;
        await until(
            () => {
                found = roku.consoleLines.findIndex((l, i) => i >= from && l.includes(text));
                return found >= 0;
            },
            timeoutMs,
            `"${text}" on the device console`
        );
        return found;
    };
    return { roku, cfg, ecp: (command) => ecpPost(cfg, command, 10000), line, close: () => roku.close() };
}

/** Sideloads a zip and (re)launches it with launch parameters; resolves once it printed `ready`. */
export async function sideloadAndLaunch(device: EcpDevice, zipPath: string, params: Record<string, string>, ready: string): Promise<number> {
    await sideloadZip(device.cfg, zipPath, { timeoutMs: 60000 });
    await device.roku.idle();
    const from = device.roku.consoleLines.length;
    await device.ecp(`launch/dev?${new URLSearchParams(params).toString()}`);
    return device.line(ready, from);
}
