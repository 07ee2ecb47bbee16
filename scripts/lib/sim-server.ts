import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { patchSceneGraph, patchWorker, type PatchResult } from './engine-idle';

const root = path.resolve(__dirname, '..', '..');

/** Files the host page needs, by URL path. */
function staticFiles(): Record<string, { file: string; type: string }> {
    const engine = path.dirname(require.resolve('brs-engine/package.json'));
    const sg = path.dirname(require.resolve('brs-scenegraph/package.json'));
    return {
        '/': { file: path.join(__dirname, 'sim-page', 'index.html'), type: 'text/html; charset=utf-8' },
        '/index.html': { file: path.join(__dirname, 'sim-page', 'index.html'), type: 'text/html; charset=utf-8' },
        '/host.js': { file: path.join(__dirname, 'sim-page', 'host.js'), type: 'text/javascript' },
        '/capture.js': { file: path.join(__dirname, 'sim-page', 'capture.js'), type: 'text/javascript' },
        '/lib/brs.api.js': { file: path.join(engine, 'lib', 'brs.api.js'), type: 'text/javascript' },
        '/lib/brs.worker.js': { file: path.join(engine, 'lib', 'brs.worker.js'), type: 'text/javascript' },
        '/lib/brs-sg.js': { file: path.join(sg, 'lib', 'brs-sg.js'), type: 'text/javascript' },
        '/assets/common.zip': { file: path.join(sg, 'assets', 'common.zip'), type: 'application/zip' }
    };
}

const patched = new Map<string, string>();

/** An engine script with its idle patches (scripts/lib/engine-idle.ts), read and patched once per process. */
function idleScript(file: string, patch: (code: string) => PatchResult): string {
    let code = patched.get(file);
    if (code === undefined) {
        const result = patch(fs.readFileSync(file, 'utf8'));
        if (result.skipped && result.skipped !== 'SIM_ENGINE_IDLE=0') {
            process.stderr.write(`simulator: ${path.basename(file)} served unpatched (waiting threads spin): ${result.skipped}\n`);
        }
        code = result.code;
        patched.set(file, code);
    }
    return code;
}

const PATCHED: Record<string, (code: string) => PatchResult> = { '/lib/brs.worker.js': patchWorker, '/lib/brs-sg.js': patchSceneGraph };

export interface HostPageConfig {
    interactive: boolean;
    developerId: string;
    launchParams: Record<string, string>;
    /** localStorage entries to seed: `<developerId>.<section>.<key>` -> value */
    registry: Record<string, string>;
}

export interface SimServer {
    url: string;
    port: number;
    /** Replace the app served at /app.zip (the next page load runs it). */
    setApp(zip: Buffer): void;
    close(): Promise<void>;
}

/**
 * Serves the simulator host page with the cross-origin isolation headers brs-engine needs
 * (SharedArrayBuffer), on loopback only.
 */
export async function startSimServer(opts: {
    zip: Buffer;
    config: HostPageConfig;
    port?: number;
    host?: string;
    /** Events the page posts back when it runs without a driver (npm start). */
    onEvent?: (kind: string, data: unknown) => void;
}): Promise<SimServer> {
    const files = staticFiles();
    let app = opts.zip;
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const headers: Record<string, string> = {
            'Cross-Origin-Opener-Policy': 'same-origin',
            'Cross-Origin-Embedder-Policy': 'require-corp',
            'Cross-Origin-Resource-Policy': 'same-origin',
            'Cache-Control': 'no-store'
        };
        if (url.pathname === '/app.zip') {
            res.writeHead(200, { ...headers, 'Content-Type': 'application/zip' });
            res.end(app);
            return;
        }
        if (url.pathname === '/__event' && req.method === 'POST') {
            const chunks: Buffer[] = [];
            req.on('data', (c: Buffer) => chunks.push(c));
            req.on('end', () => {
                try {
                    const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { kind: string; data: unknown };
                    opts.onEvent?.(event.kind, event.data);
                } catch {
                    // a malformed event from the page is dropped
                }
                res.writeHead(204, headers);
                res.end();
            });
            return;
        }
        if (url.pathname === '/config.js') {
            res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' });
            res.end(`window.__simConfig = ${JSON.stringify(opts.config)};\n`);
            return;
        }
        const entry = files[url.pathname];
        if (!entry || req.method !== 'GET') {
            res.writeHead(404, headers);
            res.end('not found');
            return;
        }
        const patch = PATCHED[url.pathname];
        if (patch) {
            res.writeHead(200, { ...headers, 'Content-Type': entry.type });
            res.end(idleScript(entry.file, patch));
            return;
        }
        fs.readFile(entry.file, (err, data) => {
            if (err) {
                res.writeHead(500, headers);
                res.end(String(err.message));
                return;
            }
            res.writeHead(200, { ...headers, 'Content-Type': entry.type });
            res.end(data);
        });
    });
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port ?? 0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://${host}:${port}/`,
        port: port,
        setApp: (zip: Buffer) => {
            app = zip;
        },
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            })
    };
}

export const projectRoot = root;
