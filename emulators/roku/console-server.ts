/**
 * The BrightScript console (port 8085 on a device): a plain TCP stream of every line the running
 * channel prints. One client at a time; a second client is told the console is in use and closed.
 * Nothing is buffered for clients that connect later, as on a device.
 */
import * as net from 'net';

export const CONSOLE_IN_USE = 'Console connection is already in use.';

export class ConsoleServer {
    private server: net.Server;
    private client: net.Socket | undefined;
    private readonly sockets = new Set<net.Socket>();
    /** Everything printed since start (for tests and debugging of the emulator itself). */
    readonly history: string[] = [];
    private readonly listeners = new Set<(line: string) => void>();

    constructor() {
        this.server = net.createServer((socket) => this.accept(socket));
    }

    listen(port: number, host: string): Promise<number> {
        return new Promise((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(port, host, () => {
                this.server.off('error', reject);
                resolve((this.server.address() as net.AddressInfo).port);
            });
        });
    }

    private accept(socket: net.Socket): void {
        this.sockets.add(socket);
        socket.on('close', () => {
            this.sockets.delete(socket);
            if (this.client === socket) {
                this.client = undefined;
            }
        });
        socket.on('error', () => undefined);
        if (this.client) {
            socket.end(CONSOLE_IN_USE + '\r\n');
            return;
        }
        this.client = socket;
        socket.setNoDelay(true);
        // Input from the client (debugger commands on a device) is read and ignored.
        socket.on('data', () => undefined);
    }

    /** Is a client attached right now? */
    get connected(): boolean {
        return this.client !== undefined;
    }

    /** Calls `fn` for every printed line (in-process observers, e.g. tests). */
    onLine(fn: (line: string) => void): () => void {
        this.listeners.add(fn);
        return () => this.listeners.delete(fn);
    }

    print(line: string): void {
        for (const l of line.replace(/\r\n/g, '\n').split('\n')) {
            this.history.push(l);
            for (const fn of this.listeners) {
                fn(l);
            }
            if (this.client && !this.client.destroyed) {
                this.client.write(l + '\r\n');
            }
        }
    }

    close(): Promise<void> {
        for (const s of this.sockets) {
            s.destroy();
        }
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}
