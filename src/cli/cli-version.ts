/** The version `canary --version` prints. */
export const CLI_VERSION = '0.1.0';
