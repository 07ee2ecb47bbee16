/**
 * How the fake Roku runs an installed channel. A runner has the signature of the simulator's
 * `startSimulatorSession`; tests inject small fakes, the CLI uses the real simulator.
 */
import type { SimulatorOptions, SimulatorSession } from '../../scripts/lib/simulator-types';

export type Runner = (opts: SimulatorOptions) => Promise<SimulatorSession>;

/** Optional extras a session may offer (ECP `input`). */
export interface SessionExtras {
    sendInput?(params: Record<string, string>): Promise<void>;
}

/** The brs-engine simulator in headless Chromium (loaded lazily: it pulls in playwright). */
export async function simulatorRunner(): Promise<Runner> {
    const sim = await import('../../scripts/lib/simulator');
    return sim.startSimulatorSession;
}

/**
 * Applies the simulator's engine workarounds (scripts/lib/sim-transforms.ts) to an installed zip, the
 * same rewrite `npm run build:test -- --simulator` does, so a device test build runs in the simulator.
 */
export async function simulatorWorkarounds(zip: Buffer): Promise<Buffer> {
    const fs = await import('fs');
    const os = await import('os');
    const path = await import('path');
    const { readZip } = await import('./compile');
    const { applySimulatorTransforms } = await import('../../scripts/lib/sim-transforms');
    const { zipFolder } = await import('../../scripts/lib/zip');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-roku-app-'));
    try {
        for (const [rel, data] of await readZip(zip)) {
            const file = path.join(dir, rel);
            if (!file.startsWith(dir + path.sep)) {
                continue; // no path traversal out of the temp folder
            }
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, data);
        }
        const changed = applySimulatorTransforms(dir);
        return changed.length > 0 ? await zipFolder(dir) : zip;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
