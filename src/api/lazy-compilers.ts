/**
 * Fastify's schema compilers, deferred to each route's first use.
 *
 * Fastify compiles a validator for every request schema and a fast-json-stringify
 * serializer for every response schema when the server starts. With the API's ~90 routes
 * that took 0.75 s of the daemon's start-up and 7 MiB of heap (32 MiB of RSS) that most
 * daemons never use, since most routes are never called between two restarts. These
 * factories wrap Fastify's own compilers (same options, same behaviour: responses still go
 * through the schema's whitelist) and compile on a route's first request instead.
 */
import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

type Compile<Schema, Fn> = (routeSchema: Schema) => Fn;

/** Returns a compile function whose result compiles on first call, then is reused. */
export function deferCompile<Schema, Args extends unknown[], R>(compile: Compile<Schema, (...args: Args) => R>): Compile<Schema, (...args: Args) => R> {
  return (routeSchema) => {
    let compiled: ((...args: Args) => R) | undefined;
    return (...args: Args) => (compiled ??= compile(routeSchema))(...args);
  };
}

type BuildSerializer = ReturnType<typeof SerializerSelector>;
type BuildValidator = ReturnType<typeof AjvCompiler>;

/**
 * For Fastify's `schemaController.compilersFactory` option.
 *
 * Lazy (the daemon): the validator compiler does not check schemas against the JSON Schema
 * meta-schema (Ajv's `validateSchema`): compiling that meta-schema and checking the shared
 * schemas with it was ~80 % of the first validating request's cost (and the daemon's first
 * answer to `GET /v1/vms` is such a request). The schemas are the code's own, fixed at build
 * time: `eager` (the tests, see src/api/schemas.test.ts) checks every one of them against the
 * meta-schema, and compiles every validator when the route is added, so a bad schema fails there.
 */
export function lazyCompilersFactory(opts: { eager?: boolean } = {}): { buildSerializer: BuildSerializer; buildValidator: BuildValidator } {
  const serializers = SerializerSelector();
  const validators = AjvCompiler();
  return {
    buildSerializer: ((externalSchemas, options) => {
      if (!opts.eager) return deferCompile(serializers(externalSchemas, options));
      const compile = serializers(externalSchemas, options);
      return (routeSchema: Parameters<ReturnType<BuildSerializer>>[0]) => compile(routeSchema);
    }) as BuildSerializer,
    buildValidator: ((externalSchemas, options) => {
      const withOptions = { ...options, customOptions: { ...options?.customOptions, validateSchema: opts.eager === true } } as Parameters<BuildValidator>[1];
      if (opts.eager) {
        const compile = validators(externalSchemas, withOptions);
        return (routeSchema: Parameters<ReturnType<BuildValidator>>[0]) => compile(routeSchema);
      }
      // Building the compiler itself (an Ajv instance with every shared schema) is part of the
      // cost: defer it too, to the first request that validates anything.
      let compile: ReturnType<BuildValidator> | undefined;
      // A validator's `errors` property is read after each call: keep it on the wrapper.
      return (routeSchema: Parameters<ReturnType<BuildValidator>>[0]) => {
        let compiled: ReturnType<ReturnType<BuildValidator>> | undefined;
        const wrapper = ((data: unknown) => {
          compile ??= validators(externalSchemas, withOptions);
          compiled ??= compile(routeSchema);
          const result = compiled(data);
          (wrapper as { errors?: unknown }).errors = (compiled as { errors?: unknown }).errors;
          return result;
        }) as ReturnType<ReturnType<BuildValidator>>;
        return wrapper;
      };
    }) as BuildValidator,
  };
}
