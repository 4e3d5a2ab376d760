export declare const COMMAND_USAGE: Record<string, { usage: string; summary: string }>;
export declare const USAGE: string;
export declare function helpFor(argv: string[]): { text: string; toStderr: boolean; code: number } | undefined;
