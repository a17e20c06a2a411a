export interface ParsedForm {
  action: string | undefined;
  method: string;
  fields: [string, string][];
  buttons: { name?: string; value?: string; text: string }[];
  hasUsername: boolean;
}
export function parseForms(html: string): ParsedForm[];
export function completeLogin(
  authorizationUrl: string,
  opts?: { deny?: boolean; username?: string },
): Promise<{ status: number; body: string; callbackUrl: string }>;
