package entra

import (
	"context"
	"errors"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// The builders below return azidentity options aimed at this server, so a
// test builds a real credential in one line, e.g.
//
//	cred, _ := azidentity.NewClientSecretCredential(tenant, id, secret, s.SecretOptions())
//
// Each call returns a fresh value the caller may modify.

// ManagedIdentityOptions are options for ManagedIdentityCredential; id nil
// means system-assigned. The credential also needs SetManagedIdentityEnv.
func (s *Server) ManagedIdentityOptions(id azidentity.ManagedIDKind) *azidentity.ManagedIdentityCredentialOptions {
	return &azidentity.ManagedIdentityCredentialOptions{ClientOptions: s.ClientOptions(), ID: id}
}

// SecretOptions are options for ClientSecretCredential.
func (s *Server) SecretOptions() *azidentity.ClientSecretCredentialOptions {
	return &azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}
}

// CertificateOptions are options for ClientCertificateCredential.
func (s *Server) CertificateOptions() *azidentity.ClientCertificateCredentialOptions {
	return &azidentity.ClientCertificateCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}
}

// AssertionOptions are options for ClientAssertionCredential.
func (s *Server) AssertionOptions() *azidentity.ClientAssertionCredentialOptions {
	return &azidentity.ClientAssertionCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}
}

// OnBehalfOfOptions are options for the OnBehalfOfCredential constructors.
func (s *Server) OnBehalfOfOptions() *azidentity.OnBehalfOfCredentialOptions {
	return &azidentity.OnBehalfOfCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}
}

// DefaultOptions are options for DefaultAzureCredential. Select its source
// with AZURE_TOKEN_CREDENTIALS (e.g. "ManagedIdentityCredential") so the
// chain does not probe the real IMDS address.
func (s *Server) DefaultOptions() *azidentity.DefaultAzureCredentialOptions {
	return &azidentity.DefaultAzureCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}
}

// DeviceCodeOptions are options for DeviceCodeCredential in tenant with the
// public client clientID. Its prompt succeeds when SetSignedInUser named a
// user (who approved the code already) and fails at once otherwise, instead
// of polling for 15 minutes.
func (s *Server) DeviceCodeOptions(tenant, clientID string) *azidentity.DeviceCodeCredentialOptions {
	return &azidentity.DeviceCodeCredentialOptions{
		ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true,
		TenantID: tenant, ClientID: clientID,
		UserPrompt: func(context.Context, azidentity.DeviceCodeMessage) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, ok := s.state.users[s.state.approver]; !ok {
				return errors.New("entra: no signed-in user approves device codes (SetSignedInUser)")
			}
			return nil
		},
	}
}

// BrowserOptions are options for InteractiveBrowserCredential in tenant
// with the public client clientID; it also needs InstallFakeBrowser and
// SetSignedInUser.
func (s *Server) BrowserOptions(tenant, clientID string) *azidentity.InteractiveBrowserCredentialOptions {
	return &azidentity.InteractiveBrowserCredentialOptions{
		ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true,
		TenantID: tenant, ClientID: clientID,
	}
}
