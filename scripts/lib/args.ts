/** The value after flag `argv[index]`, or an error naming the flag. */
export function flagValue(argv: string[], index: number): string {
    const value = argv[index + 1];
    if (value === undefined) {
        throw new Error(`${argv[index]} needs a value`);
    }
    return value;
}
