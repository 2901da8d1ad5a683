#!/usr/bin/env node
'use strict';
// The npm bin of the clone (`npx kairos …`): TypeScript runs through @swc-node/register, as `npm start` does. The
// project's tsconfig is named explicitly so the @kairos/* aliases resolve from any working directory.
const { join } = require('node:path');
process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(__dirname, '..', 'tsconfig.json');
require('@swc-node/register');
require(join(__dirname, '..', 'tools', 'kairos', 'main.ts'));
