/** Types of api-types.mjs, for the tests of the root package that import it. */
export declare function generate(openapiText: string): Promise<string>;
export declare function apiTypes(opts?: { openapi?: string; out?: string; write?: boolean }): Promise<{ stale: boolean; message?: string }>;
