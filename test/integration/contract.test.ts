import { contractSuite } from '../support/contract-suite.js'
import { onEveryTopology } from '../support/topology.js'

// Each module's core promise on standalone, Cluster and Sentinel: the same code, the same answer.
onEveryTopology('contract', contractSuite)
