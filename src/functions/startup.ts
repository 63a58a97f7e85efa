// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

// Build (and so validate) every setting when the worker starts, not on the first event:
// a missing setting then fails the deployment visibly, one line per setting.
app.hook.appStart(async () => {
  await services();
});
