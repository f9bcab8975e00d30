import t from 'tap';
import { servicesSuite } from './suite.ts';

servicesSuite(t);
