/** What a drio-mcp tool is: metadata for `tools/list` plus a function from checked arguments to a result. */
import type { z } from 'zod';
import type { AuthStatus } from '../auth/types.js';
import type { DrioClient } from '../drio/index.js';

/** The four MCP behaviour hints, all stated explicitly for every tool. */
export interface ToolHints {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What a tool may use while it runs. */
export interface ToolContext {
  /** drio, signed in on demand (public routes never trigger a sign-in). */
  drio: DrioClient;
  /** Local sign-in state; never starts a login and never touches the network. */
  authStatus(): Promise<AuthStatus>;
  /** Aborted when the client cancels the call. */
  signal: AbortSignal;
}

/** A tool's answer: `structured` matches its outputSchema, `text` is a short summary for people and models. */
export interface ToolOutput<T> {
  structured: T;
  text: string;
}

type Shape = z.ZodRawShape;
type Out<S extends Shape> = z.output<z.ZodObject<S>>;

/** A tool as the server sees it (argument types erased; the server validates against `inputSchema`). */
export interface Tool {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: Shape;
  readonly outputSchema: Shape;
  readonly annotations: ToolHints;
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolOutput<Record<string, unknown>>>;
}

/** Declares a tool with its argument and result types checked against its schemas. */
export function defineTool<I extends Shape, O extends Shape>(definition: {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: O;
  annotations: ToolHints;
  run(args: Out<I>, ctx: ToolContext): Promise<ToolOutput<Out<O>>>;
}): Tool {
  return definition as unknown as Tool;
}

/** Reads drio and changes nothing; repeating it is harmless. */
export const READ_DRIO: ToolHints = Object.freeze({ readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true });
