import { locationOf } from './engagement.controller';

describe('the click redirect', () => {
  it('percent-encodes what a Location header cannot carry, keeping the address', () => {
    expect(locationOf('https://shop.example/p/lampe–neu?farbe=grün')).toBe('https://shop.example/p/lampe%E2%80%93neu?farbe=gr%C3%BCn');
    expect(locationOf('https://shop.example/p/lamp?ref=mail')).toBe('https://shop.example/p/lamp?ref=mail');
  });
});
