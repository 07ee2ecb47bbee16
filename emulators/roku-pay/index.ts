/**
 * A fake of Roku Pay's validate-transaction web service, from Roku's documented contract
 * (contract/roku-pay/): GET /listen/transaction-service.svc/validate-transaction/{partnerAPIKey}/{transactionId}.
 * A transaction it was told about answers Success (entitled to its product); any other answers
 * Failure, as Roku does for a transaction it does not know. Listens on 127.0.0.1, port 0 by default.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import Ajv from 'ajv';

const schema = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'contract', 'roku-pay', 'validate-transaction.response.schema.json'), 'utf8')) as object;
const validAnswer = new Ajv({ strict: true, allowUnionTypes: true }).compile(schema);

const PREFIX = '/listen/transaction-service.svc/validate-transaction/';

export interface RokuPayFakeOptions {
    /** The partner API key it accepts. */
    apiKey: string;
    port?: number;
}

export interface RokuPayFake {
    url: string;
    /** Transaction IDs asked about, in order. */
    asked: string[];
    /** Make a transaction known: it validates as entitled to `productId`. */
    addTransaction(transactionId: string, productId: string): void;
    close(): Promise<void>;
}

export function startRokuPayFake(opts: RokuPayFakeOptions): Promise<RokuPayFake> {
    const known = new Map<string, string>();
    const asked: string[] = [];
    const answer = (res: http.ServerResponse, status: number, body: Record<string, unknown>): void => {
        if (status === 200 && !validAnswer(body)) {
            throw new Error(`the Roku Pay fake would break its contract: ${JSON.stringify(validAnswer.errors)}`);
        }
        const text = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
    };
    const server = http.createServer((req, res) => {
        const url = req.url ?? '/';
        if (req.method !== 'GET' || !url.startsWith(PREFIX)) {
            answer(res, 404, { status: 'Failure', errorMessage: 'Not found' });
            return;
        }
        const [key, id] = url.slice(PREFIX.length).split('/').map((s) => decodeURIComponent(s));
        if (key !== opts.apiKey || !id) {
            answer(res, 401, { status: 'Failure', errorMessage: 'Invalid partner API key' });
            return;
        }
        asked.push(id);
        const productId = known.get(id);
        if (productId === undefined) {
            answer(res, 200, { status: 'Failure', errorCode: 'INVALID_TRANSACTION', errorMessage: 'Transaction not found', isEntitled: false, productId: null, transactionId: id });
            return;
        }
        answer(res, 200, { status: 'Success', errorCode: null, errorMessage: null, isEntitled: true, productId, transactionId: id, cancelled: false });
    });
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port ?? 0, '127.0.0.1', () => {
            const port = (server.address() as AddressInfo).port;
            resolve({
                url: `http://127.0.0.1:${port}`,
                asked,
                addTransaction: (id, productId) => known.set(id, productId),
                close: () =>
                    new Promise<void>((r) => {
                        server.close(() => r());
                        server.closeAllConnections();
                    }),
            });
        });
    });
}
