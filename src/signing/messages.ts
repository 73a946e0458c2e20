/** Hints repeated in several messages: what the user should run. */
export const NEW_KEY_HINT = "make an RSA 3072+ key: gpg --quick-gen-key 'NAME <EMAIL>' rsa3072 sign 2y";
export const SIGN_HINT = 'sign the exact file: gpg --armor --detach-sign FILE.aci';
