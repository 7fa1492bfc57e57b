import { kuvaszVitestConfig } from '../../vitest.shared.ts';

// vitest empties CSS imports unless told otherwise, `?raw` ones too: the
// admin page's stylesheet is served from its text.
export default kuvaszVitestConfig({ css: { include: [/\/src\/admin\/web\/.+\.css/] } });
