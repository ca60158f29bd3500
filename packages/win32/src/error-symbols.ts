/**
 * Symbolic names of the `GetLastError` values busway can meet. Kept as a table (not FormatMessage)
 * because the symbol is the stable, greppable identifier callers switch on, while the system
 * message is localised.
 *
 * @module
 */

const SYMBOLS: ReadonlyMap<number, string> = new Map([
  [0, 'ERROR_SUCCESS'],
  [1, 'ERROR_INVALID_FUNCTION'],
  [2, 'ERROR_FILE_NOT_FOUND'],
  [3, 'ERROR_PATH_NOT_FOUND'],
  [4, 'ERROR_TOO_MANY_OPEN_FILES'],
  [5, 'ERROR_ACCESS_DENIED'],
  [6, 'ERROR_INVALID_HANDLE'],
  [8, 'ERROR_NOT_ENOUGH_MEMORY'],
  [14, 'ERROR_OUTOFMEMORY'],
  [32, 'ERROR_SHARING_VIOLATION'],
  [38, 'ERROR_HANDLE_EOF'],
  [50, 'ERROR_NOT_SUPPORTED'],
  [80, 'ERROR_FILE_EXISTS'],
  [87, 'ERROR_INVALID_PARAMETER'],
  [109, 'ERROR_BROKEN_PIPE'],
  [111, 'ERROR_BUFFER_OVERFLOW'],
  [121, 'ERROR_SEM_TIMEOUT'],
  [122, 'ERROR_INSUFFICIENT_BUFFER'],
  [123, 'ERROR_INVALID_NAME'],
  [161, 'ERROR_BAD_PATHNAME'],
  [183, 'ERROR_ALREADY_EXISTS'],
  [206, 'ERROR_FILENAME_EXCED_RANGE'],
  [230, 'ERROR_BAD_PIPE'],
  [231, 'ERROR_PIPE_BUSY'],
  [232, 'ERROR_NO_DATA'],
  [233, 'ERROR_PIPE_NOT_CONNECTED'],
  [234, 'ERROR_MORE_DATA'],
  [258, 'WAIT_TIMEOUT'],
  [298, 'ERROR_TOO_MANY_POSTS'],
  [487, 'ERROR_INVALID_ADDRESS'],
  [535, 'ERROR_PIPE_CONNECTED'],
  [536, 'ERROR_PIPE_LISTENING'],
  [735, 'ERROR_ABANDONED_WAIT_0'],
  [995, 'ERROR_OPERATION_ABORTED'],
  [996, 'ERROR_IO_INCOMPLETE'],
  [997, 'ERROR_IO_PENDING'],
  [1168, 'ERROR_NOT_FOUND'],
  [1314, 'ERROR_PRIVILEGE_NOT_HELD'],
  [1336, 'ERROR_INVALID_ACL'],
  [1337, 'ERROR_INVALID_SID'],
  [1338, 'ERROR_INVALID_SECURITY_DESCR'],
  [1450, 'ERROR_NO_SYSTEM_RESOURCES'],
  [1455, 'ERROR_COMMITMENT_LIMIT'],
  [1460, 'ERROR_TIMEOUT'],
  [1784, 'ERROR_INVALID_USER_BUFFER'],
]);

const CODES: ReadonlyMap<string, number> = new Map([...SYMBOLS].map(([code, symbol]) => [symbol, code]));

/**
 * The symbolic name of a `GetLastError` value, or `WIN32_ERROR_<n>` for one not in the table.
 *
 * @example
 * ```ts
 * win32ErrorSymbol(2); // 'ERROR_FILE_NOT_FOUND'
 * ```
 */
export function win32ErrorSymbol(errno: number): string {
  return SYMBOLS.get(errno) ?? `WIN32_ERROR_${errno}`;
}

/**
 * The numeric value of a symbolic Win32 error name from the table, or `undefined`.
 *
 * @example
 * ```ts
 * win32ErrorCode('ERROR_PIPE_BUSY'); // 231
 * ```
 */
export function win32ErrorCode(symbol: string): number | undefined {
  return CODES.get(symbol);
}
