#!/usr/bin/env node
// The `spine` command. Spine runs its TypeScript sources through tsx's loader, so there is no
// build step between a checkout and a running assistant.
import { register } from 'tsx/esm/api';

register();
await import('../app/cli.ts');
