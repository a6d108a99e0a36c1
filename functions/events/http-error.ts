/**
 * An error Fastify answers with its `statusCode`, as a one-line JSON body, and logs at info level. It carries no stack: a
 * refused request is the sender's mistake, and its log line says why in one line, with no trace of the function's frames.
 */
export function stacklessHttpError(statusCode: number, message: string): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return Object.assign(new Error(message), { statusCode });
  } finally {
    Error.stackTraceLimit = limit;
  }
}
