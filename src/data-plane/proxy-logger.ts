/** Where the proxy writes its few operational lines (listening, table applied, control plane lost). */
export interface ProxyLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const consoleProxyLogger: ProxyLogger = {
  info: (m) => process.stdout.write(`canary proxy: ${m}\n`),
  warn: (m) => process.stderr.write(`canary proxy: warning: ${m}\n`),
  error: (m) => process.stderr.write(`canary proxy: error: ${m}\n`),
};

export const silentProxyLogger: ProxyLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
