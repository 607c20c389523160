/**
 * uWS has no middleware: a check that must run before every handler wraps the app's route methods
 * instead, so that every route registered from then on goes through it (the framing checks of
 * src/http/body-reader.ts, the bearer tokens of src/http/auth-guard.ts).
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';

export type RouteHandler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;

const ROUTE_METHODS = [
  'get',
  'post',
  'put',
  'del',
  'patch',
  'options',
  'head',
  'any',
  'connect',
  'trace',
] as const;
type RouteMethod = (typeof ROUTE_METHODS)[number];

/** Registers every later route of `app` with `wrap(pattern, handler)` instead of its handler. */
export function wrapRoutes(
  app: TemplatedApp,
  wrap: (pattern: string, handler: RouteHandler) => RouteHandler,
): TemplatedApp {
  const routes = app as unknown as Record<
    RouteMethod,
    (pattern: string, handler: RouteHandler) => TemplatedApp
  >;
  for (const method of ROUTE_METHODS) {
    const register = routes[method].bind(app);
    routes[method] = (pattern, handler) => register(pattern, wrap(pattern, handler));
  }
  return app;
}
