import { type AppError, isAppError } from '../../src/errors.js';

/** Runs `run` and returns the AppError it throws (or rejects with); fails when it does not throw one. */
export async function appErrorOf(run: () => unknown): Promise<AppError> {
  try {
    await run();
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}
