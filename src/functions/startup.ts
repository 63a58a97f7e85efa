import { app } from '@azure/functions';
import { services } from '../lib/composition.ts';

// Build (and so validate) every setting when the worker starts, not on the first event:
// a missing setting then fails the deployment visibly, one line per setting.
app.hook.appStart(() => {
  services();
});
