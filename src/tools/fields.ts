/** Argument schemas shared by several tools, with the limits drio ids must meet before they reach a URL. */
import { z } from 'zod';
import { ID_MAX_LENGTH, ID_PATTERN } from '../drio/index.js';

const ID_CHARSET_MESSAGE = 'may contain only letters, digits, "_", "-", "." and ":", and must start with a letter or digit';

function drioId(what: string) {
  return z
    .string()
    .min(1, `is required (the ${what}, e.g. from a list tool)`)
    .max(ID_MAX_LENGTH, `must be at most ${ID_MAX_LENGTH} characters`)
    .regex(ID_PATTERN, ID_CHARSET_MESSAGE);
}

export const appId = drioId('app id').describe('The drio app id, e.g. "app_123". Get it from list_apps.');
export const templateId = drioId('template id').describe('The drio template id, e.g. "tpl_blank". Get it from list_templates.');
