/**
 * A fake of the Roku cloud's per-account channel data: what the ChannelStore command
 * `storeChannelCredData` keeps for a Roku account and `getChannelCred` hands back (as
 * `channelCred.json.channel_data`) on every device linked to that account (Roku's ChannelStore
 * reference, "storeChannelCredData" / "getChannelCred"). The test store emulator talks to it over
 * loopback so two simulator runs — two devices — share one Roku account:
 *
 *   POST /accounts/{account}/channel-cred   body: the channel data (text)  -> 200 {"status":"success"}
 *   GET  /accounts/{account}/channel-cred   -> 200 the channel data, or 204 when none is stored
 *
 * It knows nothing of what the channel stores in it. Listens on 127.0.0.1, port 0 by default;
 * answers CORS (the simulator's roUrlTransfer is browser XHR). Never logs the data.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Roku does not document a size limit; this fake refuses anything absurd. */
export const MAX_CHANNEL_DATA_BYTES = 16 * 1024;

export interface RokuCloudCall {
    method: string;
    account: string;
    status: number;
}

export interface RokuCloudFake {
    url: string;
    /** Base URL of one Roku account (what the store emulator's `rokuAccountUrl` takes). */
    accountUrl(account: string): string;
    /** What is stored for an account, or undefined. */
    channelData(account: string): string | undefined;
    /** Every call, in order. */
    calls: RokuCloudCall[];
    close(): Promise<void>;
}

const ROUTE = /^\/accounts\/([A-Za-z0-9._-]{1,64})\/channel-cred$/;

export async function startRokuCloudFake(port = 0): Promise<RokuCloudFake> {
    const data = new Map<string, string>();
    const calls: RokuCloudCall[] = [];
    const server = http.createServer((req, res) => {
        const headers = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'Content-Type', 'Access-Control-Allow-Methods': 'GET, POST, OPTIONS' };
        const answer = (status: number, body = '', type = 'text/plain'): void => {
            res.writeHead(status, { ...headers, 'Content-Type': type });
            res.end(body);
        };
        if (req.method === 'OPTIONS') {
            answer(204);
            return;
        }
        const m = ROUTE.exec(new URL(req.url ?? '/', 'http://x').pathname);
        if (!m) {
            answer(404, '{"status":"failure","error":"not found"}', 'application/json');
            return;
        }
        const account = m[1]!;
        if (req.method === 'GET') {
            const stored = data.get(account);
            calls.push({ method: 'GET', account, status: stored === undefined ? 204 : 200 });
            answer(stored === undefined ? 204 : 200, stored ?? '');
            return;
        }
        if (req.method !== 'POST') {
            answer(405);
            return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= MAX_CHANNEL_DATA_BYTES) {
                chunks.push(c);
            }
        });
        req.on('end', () => {
            if (size > MAX_CHANNEL_DATA_BYTES) {
                calls.push({ method: 'POST', account, status: 413 });
                answer(413, '{"status":"failure","error":"too large"}', 'application/json');
                return;
            }
            data.set(account, Buffer.concat(chunks).toString('utf8'));
            calls.push({ method: 'POST', account, status: 200 });
            answer(200, '{"status":"success","error":"none"}', 'application/json');
        });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        url,
        accountUrl: (account) => `${url}/accounts/${account}`,
        channelData: (account) => data.get(account),
        calls,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
