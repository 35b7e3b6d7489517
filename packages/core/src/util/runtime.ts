// Where core runs (Node or a browser) and how it loads the packages that exist only in Node (native
// TensorFlow, Dawn's WebGPU binding) without a bundler following them into a browser bundle.

export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Imports a package by a name bundlers do not follow; tells "not installed" from "installed but broken". */
export async function importOptional(pkg: string): Promise<unknown> {
  try {
    return await import(/* @vite-ignore */ pkg);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if ((err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') && err.message.includes(pkg)) throw new Error(`${pkg} is not installed`);
    throw e;
  }
}
