// DynamoDB Local on one address (loopback) instead of every interface.
//
// DynamoDB Local's jar has no option for the address it binds: its Jetty server is made with a
// port only, which means every interface (`*:8000`), open to the network with no authentication.
// This launcher builds the server exactly as the jar's own main does (same command-line options),
// sets the host of its Jetty connector before it starts, then starts it. cruddur.local.dynamodb
// compiles it once per jar (javac, into node_modules/.cache/, never into the repository) and runs
// it with the jar and its libraries on the class path.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        String host = System.getProperty("cruddur.dynamodb.host", "127.0.0.1");
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        // the Jetty server is a private field of the proxy: no accessor exists
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        Connector[] connectors = server.getConnectors();
        if (connectors.length == 0) {
            throw new IllegalStateException("DynamoDB Local's server has no connector to bind");
        }
        for (Connector connector : connectors) {
            ((ServerConnector) connector).setHost(host);
        }
        proxy.start();
        System.out.println("DynamoDB Local listens on " + host + " only");
    }
}
