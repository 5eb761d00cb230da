/** Hangar's version, shown by `hangar --version`, the API and the OpenAPI document. */
export const VERSION = '0.2.0';
