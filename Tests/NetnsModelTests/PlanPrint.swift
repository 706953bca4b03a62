import NetnsModel
import Testing

@Test func printPlans() throws {
    for t in [Fixtures.routed, Fixtures.policy, Fixtures.overlay, Fixtures.star(2)] {
        print("=== \(t.name)")
        print(try t.plan())
    }
    print(Fixtures.routed.yaml())
}
