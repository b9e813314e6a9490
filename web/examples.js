// Example sets for the playground: the seed's two restriction lines, then
// conditions and address rules, each with requests that show both outcomes.

import { defaultRequest } from './state.js';

const BASE = 'https://wiki.example.com';

function example(name, description, token, requests) {
  return {
    name,
    description,
    state: () => {
      const now = Date.now();
      return {
        token: { limitTo: '', ip: '', user: 'admin', validUntil: null, validFrom: null, ...token },
        settings: { scope: 'rest', publicBase: BASE },
        requests: requests.map((request) => ({ ...defaultRequest(now), ...request })),
      };
    },
  };
}

export const EXAMPLES = [
  example(
    'POST to the EXTENDER space’s properties',
    'The seed: [post].*/rest/api/space/EXTENDER/property.*',
    { limitTo: '[post].*/rest/api/space/EXTENDER/property.*' },
    [
      { method: 'POST', target: '/rest/api/space/EXTENDER/property', body: '{"key":"reviewed","value":true}' },
      { method: 'GET', target: '/rest/api/space/EXTENDER/property' },
      { method: 'POST', target: '/rest/api/space/OTHER/property' },
    ],
  ),
  example(
    'All space endpoints',
    'The seed: .*/rest/api/space.*',
    { limitTo: '.*/rest/api/space.*' },
    [
      { method: 'GET', target: '/rest/api/space?limit=25' },
      { method: 'DELETE', target: '/rest/api/space/EXTENDER' },
      { method: 'GET', target: '/rest/api/content/123' },
    ],
  ),
  example(
    'Both seed lines',
    'The seed’s tokenTools/get example: two lines, the first that matches wins',
    { limitTo: '[post].*/rest/api/space/EXTENDER/property.*\n.*/rest/api/space.*' },
    [
      { method: 'POST', target: '/rest/api/space/EXTENDER/property/reviewed' },
      { method: 'GET', target: '/rest/api/space/EXTENDER' },
      { method: 'GET', target: '/rest/api/user/current' },
    ],
  ),
  example(
    'Query and JSON conditions',
    'Trailing [QueryParam::…] and [JsonData::…] conditions must all hold',
    { limitTo: '[get].*/rest/api/content[QueryParam::expand==body.*]\n[post].*/rest/api/content[JsonData::space.key==EXT]' },
    [
      { method: 'GET', target: '/rest/api/content?expand=body.storage' },
      { method: 'GET', target: '/rest/api/content?expand=history' },
      { method: 'POST', target: '/rest/api/content', body: '{"type":"page","space":{"key":"EXT"}}' },
      { method: 'POST', target: '/rest/api/content', body: '{"type":"page","space":{"key":"OPS"}}' },
    ],
  ),
  example(
    'Addresses and a bound user',
    'IP rules with an exclusion, a token bound to one user',
    { user: 'jankowalski', ip: '10.0.0.0/8, !10.0.0.13\n2001:db8::/32' },
    [
      { user: 'jankowalski', clientIp: '10.1.2.3' },
      { user: 'jankowalski', clientIp: '10.0.0.13' },
      { user: 'admin', clientIp: '10.1.2.3' },
      { scheme: 'bearer', user: null, clientIp: '2001:db8::7' },
    ],
  ),
];
