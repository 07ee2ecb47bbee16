/**
 * A real redis-server for tests: loopback only, an ephemeral port, a temporary directory, no
 * persistence; stop() ends it and removes the directory. Not a test file itself.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface TestRedis {
    url: string;
    port: number;
    /** The redis-server process (the bench counts its CPU time). */
    pid: number | undefined;
    /** Stop the server and remove its directory. */
    stop(): Promise<void>;
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

function waitForPort(port: number, child: ChildProcess, ceilingMs: number): Promise<void> {
    const end = Date.now() + ceilingMs;
    return new Promise((resolve, reject) => {
        const tryOnce = (): void => {
            if (child.exitCode !== null) {
                reject(new Error(`redis-server exited with ${child.exitCode}`));
                return;
            }
            const sock = net.connect(port, '127.0.0.1');
            sock.once('connect', () => {
                sock.end('PING\r\n');
                sock.once('data', () => {
                    sock.destroy();
                    resolve();
                });
            });
            sock.once('error', () => {
                sock.destroy();
                if (Date.now() > end) {
                    reject(new Error('redis-server did not start'));
                } else {
                    setTimeout(tryOnce, 50);
                }
            });
        };
        tryOnce();
    });
}

/** Start redis-server (REDIS_SERVER_PATH, or redis-server on PATH). */
export async function startTestRedis(): Promise<TestRedis> {
    const dir = mkdtempSync(path.join(tmpdir(), 'relay-redis-'));
    // A port taken between freePort() and redis binding it makes redis exit; try a few times.
    for (let attempt = 0; ; attempt++) {
        const port = await freePort();
        const child = spawn(
            process.env.REDIS_SERVER_PATH || 'redis-server',
            ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'],
            { stdio: 'ignore' },
        );
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        try {
            await waitForPort(port, child, 20_000);
        } catch (e) {
            child.kill('SIGKILL');
            await exited;
            if (attempt < 3) {
                continue;
            }
            rmSync(dir, { recursive: true, force: true });
            throw e;
        }
        child.unref();
        return {
            url: `redis://127.0.0.1:${port}`,
            port,
            pid: child.pid,
            async stop() {
                if (child.exitCode === null) {
                    child.kill('SIGTERM');
                    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
                    await exited;
                    clearTimeout(killer);
                }
                rmSync(dir, { recursive: true, force: true });
            },
        };
    }
}
