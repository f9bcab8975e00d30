// Types of mask.js for the server's tests (the browser loads mask.js directly).
export declare function maskMiddle(s: string, head: number, tail: number): string;
export declare function maskName(s: string): string;
export declare function maskText(s: string): string;
export declare function maskValue(key: string, value: unknown): string;
export declare function summarizeBody(body: unknown, max?: number): string;
