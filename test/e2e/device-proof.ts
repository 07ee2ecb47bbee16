/**
 * A stand-in for Roku's device attestation for end-to-end runs: a key pair and a self-signed
 * certificate in place of Roku's device-attestation CA (for the relay's `attestation.cert`), and a
 * loopback server that signs a device attestation token (RS256 JWT with Roku's documented
 * claims) for a nonce, as Roku's cloud does for getDeviceAttestationToken (the store emulator
 * fetches it from `attestationUrl`). 127.0.0.1, port 0.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface DeviceProof {
    /** The certificate the relay trusts (RelayConfigInput.attestation.cert). */
    certPath: string;
    /** The channel ID the tokens carry ("dev": a sideloaded channel). */
    channelId: string;
    /** The store emulator's `attestationUrl` launch parameter. */
    tokenUrl: string;
    /** Nonces a token was signed for, in order. */
    nonces: string[];
    close(): Promise<void>;
}

export async function startDeviceProof(): Promise<DeviceProof> {
    const channelId = 'dev';
    const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = mkdtempSync(path.join(tmpdir(), 'e2e-attest-'));
    const keyPath = path.join(dir, 'device.key');
    const certPath = path.join(dir, 'device.crt');
    writeFileSync(keyPath, device.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    execFileSync('openssl', ['req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=roku-attestation-test', '-days', '2', '-out', certPath], { stdio: 'ignore' });
    const nonces: string[] = [];
    const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const server = http.createServer((req, res) => {
        const nonce = new URL(req.url ?? '/', 'http://x').searchParams.get('nonce') ?? '';
        nonces.push(nonce);
        const now = Math.floor(Date.now() / 1000);
        const data = { nonce, channelId, developerId: 'test-developer', timestampMs: Date.now() };
        // The relay reads the nonce and channel claims at the top level (its configured claim names).
        const claims = { ...data, 'x-roku-attestation-data': data, iss: 'urn:roku:cloud-services:device-attestation', iat: now, nbf: now - 5, exp: now + 120 };
        const signed = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Access-Control-Allow-Origin': '*' });
        res.end(`${signed}.${sign('sha256', Buffer.from(signed), device.privateKey).toString('base64url')}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
        certPath,
        channelId,
        tokenUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
        nonces,
        close: async () => {
            await new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            });
            rmSync(dir, { recursive: true, force: true });
        },
    };
}
