# As palavras do bridge em português do Brasil. Os mesmos ids de en.ftl.

## Avisos do ciclo de vida para o cliente

notice-agent-joined = { $agent } entrou na conversa.
notice-agent-left = { $agent } saiu da conversa.
notice-transferred = Estamos transferindo você para alguém que pode ajudar. Por favor, aguarde.
notice-chat-ended = Esta conversa foi encerrada. Mande uma mensagem quando quiser para começar uma nova.
notice-idle = Você ainda está aí? Esta conversa será encerrada em breve se não tivermos notícias suas.
notice-auto-disconnect = Encerramos esta conversa porque não tivemos resposta. Mande uma mensagem quando quiser para começar uma nova.
notice-customer-ended = Você encerrou a conversa. Mande uma mensagem quando quiser para começar uma nova.
agent-fallback = um atendente

## Menus (WhatsApp: botões de no máximo 20 caracteres)

menu-list-button = Escolha uma opção
menu-time-button = Escolha um horário
menu-more-options = Mais opções
menu-numbered-prompt = Responda com um número:

## Arquivos: o que o cliente fica sabendo

file-kind-not-passed = Desculpe, não conseguimos repassar esse tipo de arquivo ao atendente.
file-not-passed = Desculpe, não conseguimos repassar seu arquivo ao atendente.
file-not-converted = Desculpe, não conseguimos repassar este arquivo ao atendente.
file-too-large = Desculpe, seu arquivo é grande demais para ser repassado (o limite é de { $limit } MB). Pode enviar um menor?
agent-file-too-large = O atendente enviou um arquivo, "{ $name }", grande demais para ser entregue aqui (o limite é de { $limit } MB). Você pode pedir outra forma de recebê-lo.
transcript-echo = 🎤 "{ $transcript }"

## Arquivos: o que o atendente fica sabendo

transcript = 🎤 Transcrição: { $transcript }
transcript-silent = 🎤 Transcrição: (nenhuma fala reconhecida)
transcript-failed = 🎤 Falta a transcrição desta mensagem de voz: a transcrição falhou.
transcript-too-long = 🎤 Falta a transcrição desta mensagem de voz: com { $seconds } s, ela é longa demais para ser transcrita aqui.
file-not-retrieved = ⚠️ Não foi possível obter o arquivo do WhatsApp.
file-upload-refused = [arquivo: { $name }, { $format }, { $size }] O cliente enviou este arquivo, mas o chat recusou o upload.
agent-file-not-sent = "{ $name }" não foi enviado ao cliente: passa dos { $limit } MB que podem ser repassados. O cliente foi avisado.
customer-file-too-large = O cliente enviou { $file } ({ $size }), maior que os { $limit } que este chat pode mostrar.
customer-file-not-accepted = O cliente enviou { $file } ({ $format }, { $size }) em um formato que este chat não pode mostrar.
customer-file-not-converted = O cliente enviou { $file } ({ $format }, { $size }) que não pôde ser convertido para este chat.
customer-file = { $kind ->
    [document] { $name ->
        [none] um documento
       *[other] um documento "{ $name }"
    }
    [voice] uma mensagem de voz
    [audio] um arquivo de áudio
    [image] uma foto
    [sticker] uma figurinha
   *[video] um vídeo
}
unknown-format = formato desconhecido
file-label = { $kind ->
    [document] arquivo
    [voice] mensagem de voz
    [audio] áudio
    [image] imagem
    [sticker] figurinha
    [animated-sticker] figurinha animada
   *[video] vídeo
}

## O que o cliente enviou e o Connect não consegue mostrar

location-unnamed = Localização compartilhada
contacts-empty = [cartão de contato vazio]
contact-unnamed = Contato
contact-on-whatsapp = no WhatsApp
reaction-added = reagiu com { $emoji } a: { $quote }
reaction-added-unknown = reagiu com { $emoji } a uma mensagem
reaction-removed = removeu a reação de: { $quote }
reaction-removed-unknown = removeu a reação de uma mensagem
unsupported = [O cliente enviou algo que o WhatsApp não repassa às empresas: { $kind }]
unsupported-unknown = [O cliente enviou algo que o WhatsApp não repassa às empresas]
whatsapp-notice = [Aviso do WhatsApp: { $body }]
whatsapp-notice-empty = [Aviso do WhatsApp]
order = [pedido: { $items ->
    [one] { $items } item
   *[other] { $items } itens
}]
form-submitted = [formulário enviado]

## Mensagens que não chegaram ao cliente (notas para o atendente)

delivery-failed = Sua mensagem { $quote } não foi entregue
delivery-failed-unknown = Uma mensagem não foi entregue
reason-reengagement = mais de 24 horas desde a última mensagem do cliente; agora só um modelo de mensagem pode alcançá-lo
reason-undeliverable = não entregue: o número pode não estar no WhatsApp, pode ter bloqueado esta empresa ou pode precisar atualizar o WhatsApp
reason-error = erro do WhatsApp { $code }: { $detail }
reason-error-bare = erro do WhatsApp { $code }
reason-none = o WhatsApp não informou o motivo
