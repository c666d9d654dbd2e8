// Operational logs: winston to stderr only, so stdout carries nothing but audit records.
import winston from 'winston';

export function createLogger(format: 'text' | 'json' = 'text', level = process.env.PHIGATE_LOG_LEVEL ?? 'info'): winston.Logger {
  return winston.createLogger({
    level,
    format: format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(winston.format.timestamp({ format: 'HH:mm:ss' }), winston.format.printf((i) => `${i.timestamp} ${i.level} ${i.message}`)),
    transports: [new winston.transports.Stream({ stream: process.stderr })],
  });
}
